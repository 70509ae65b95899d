"""ProgramService servicer: proto in, use case, proto out."""

from __future__ import annotations

from outbound.program.v1 import program_pb2 as pb
from outbound.program.v1 import program_pb2_grpc
from services.program.entrypoints.mapping import draft_from_proto, program_to_proto
from services.program.service import ProgramService


class ProgramServicer(program_pb2_grpc.ProgramServiceServicer):
    def __init__(self, service: ProgramService):
        self._service = service

    async def CreateProgram(self, request: pb.CreateProgramRequest, context) -> pb.Program:
        view = await self._service.create(request.organization_id, draft_from_proto(request.program))
        return program_to_proto(view)

    async def GetProgram(self, request: pb.GetProgramRequest, context) -> pb.Program:
        view = await self._service.get(request.organization_id, request.program_id, request.include_archived)
        return program_to_proto(view)

    async def ListPrograms(self, request: pb.ListProgramsRequest, context) -> pb.ListProgramsResponse:
        views, next_cursor = await self._service.list(request.organization_id, request.limit, request.cursor)
        return pb.ListProgramsResponse(programs=[program_to_proto(v) for v in views], next_cursor=next_cursor)

    async def UpdateProgram(self, request: pb.UpdateProgramRequest, context) -> pb.Program:
        view = await self._service.update(request.organization_id, request.program_id,
                                          draft_from_proto(request.program), list(request.update_mask))
        return program_to_proto(view)

    async def ArchiveProgram(self, request: pb.ArchiveProgramRequest, context) -> pb.Program:
        return program_to_proto(await self._service.archive(request.organization_id, request.program_id))

    async def MarkProgramActive(self, request: pb.MarkProgramActiveRequest, context) -> pb.Program:
        return program_to_proto(await self._service.mark_active(request.organization_id, request.program_id))
