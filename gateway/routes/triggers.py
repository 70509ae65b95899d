"""GET /api/programs/{id}/triggers: the contact triggers of a live program."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Response

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.models import ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from kernel import errors, ids
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2

router = APIRouter(tags=["programs"])

TriggerStatus = Literal["pending", "triggered", "cancelled"]

# Answered before asking the program service, for a path id that cannot name a program.
ProgramNotFoundError = errors.named(errors.NotFoundError, "ProgramNotFoundError", "Program not found")


class ContactTriggerResponse(ApiResponse):
    id: str
    contact_id: str
    contact_name: str | None
    contact_phone: str
    trigger_at: str
    attribute_value: str
    status: TriggerStatus
    triggered_at: str | None
    created_at: str


def _response(message: trigger_pb2.ContactTrigger) -> ContactTriggerResponse:
    return ContactTriggerResponse(
        id=message.id, contact_id=message.contact_id,
        contact_name=message.contact_name if message.HasField("contact_name") else None,
        contact_phone=message.contact_phone, trigger_at=message.trigger_at,
        attribute_value=message.attribute_value, status=message.status,
        triggered_at=message.triggered_at or None, created_at=message.created_at,
    )


@router.get("/programs/{program_id}/triggers", response_model=list[ContactTriggerResponse],
            response_model_by_alias=True, summary="List contact triggers for a live program")
async def list_triggers(
    program_id: str,
    response: Response,
    status: TriggerStatus | None = Query(None, description="pending | triggered | cancelled"),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    org: str = Depends(organization_id),
    stubs: Clients = Depends(clients),
) -> list[ContactTriggerResponse]:
    ids.parse(program_id, ProgramNotFoundError)
    program = await call(stubs.program.GetProgram, program_pb2.GetProgramRequest(
        organization_id=org, program_id=program_id, include_archived=True))
    if program.mode != "live":
        raise errors.BadRequestException("Program is not in live mode")
    answer = await call(stubs.trigger.ListTriggers, trigger_pb2.ListTriggersRequest(
        organization_id=org, program_id=program_id, status=status or "", limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [_response(t) for t in answer.triggers]
