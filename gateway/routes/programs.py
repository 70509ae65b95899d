"""/api/programs: campaign templates (batch or live). Business rules live in the program service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import body
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from gateway.routes.program_bodies import (
    CreateProgramRequest,
    ProgramResponse,
    UpdateProgramRequest,
    program_input,
    program_json,
)
from outbound.program.v1 import program_pb2 as pb

router = APIRouter(tags=["programs"])

# Nested models must keep only what was set (e.g. the days a pause window names).
_RESPONSE = {"response_model": ProgramResponse, "response_model_exclude_unset": True}


@router.post("/programs", status_code=201, **_RESPONSE)
async def create_program(request: CreateProgramRequest, org: str = Depends(organization_id),
                         stubs: Clients = Depends(clients)) -> dict[str, Any]:
    program = await call(stubs.program.CreateProgram, pb.CreateProgramRequest(
        organization_id=org, program=program_input(body(request))))
    return program_json(program)


@router.get("/programs", response_model=list[ProgramResponse], response_model_exclude_unset=True)
async def list_programs(response: Response, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                        org: str = Depends(organization_id), stubs: Clients = Depends(clients)) -> list[dict[str, Any]]:
    """The organization's programs that are not archived, newest first. The next page's cursor is
    in the `X-Next-Cursor` header (absent on the last page)."""
    answer = await call(stubs.program.ListPrograms, pb.ListProgramsRequest(
        organization_id=org, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [program_json(p) for p in answer.programs]


@router.get("/programs/{program_id}", **_RESPONSE)
async def get_program(program_id: str, org: str = Depends(organization_id),
                      stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """Archived programs are answered too (status 'archived')."""
    program = await call(stubs.program.GetProgram, pb.GetProgramRequest(
        organization_id=org, program_id=program_id, include_archived=True))
    return program_json(program)


@router.patch("/programs/{program_id}", **_RESPONSE)
async def update_program(program_id: str, request: UpdateProgramRequest, org: str = Depends(organization_id),
                         stubs: Clients = Depends(clients)) -> dict[str, Any]:
    """Changes apply to future executions only. An archived program answers 400 BadRequestException."""
    sent = body(request)
    program = await call(stubs.program.UpdateProgram, pb.UpdateProgramRequest(
        organization_id=org, program_id=program_id, program=program_input(sent), update_mask=list(sent)))
    return program_json(program)


@router.delete("/programs/{program_id}", status_code=204, response_class=Response)
async def delete_program(program_id: str, org: str = Depends(organization_id),
                         stubs: Clients = Depends(clients)) -> Response:
    """Archives the program (no longer listed, still readable) and cancels its active execution.
    Repeating it is harmless."""
    await call(stubs.program.ArchiveProgram, pb.ArchiveProgramRequest(organization_id=org, program_id=program_id))
    return Response(status_code=204)
