"""ExecutionService servicer: proto in, use case, proto out."""

from __future__ import annotations

from google.protobuf import json_format

from outbound.execution.v1 import execution_pb2, execution_pb2_grpc
from services.execution.service import ExecutionService, to_proto


class ExecutionServicer(execution_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, service: ExecutionService):
        self.service = service

    async def LaunchProgram(self, request, context):
        execution_id = await self.service.launch(request.organization_id, request.program_id)
        return execution_pb2.LaunchProgramResponse(execution_id=execution_id)

    async def GetExecution(self, request, context):
        return to_proto(await self.service.get_detail(request.organization_id, request.execution_id))

    async def ListExecutions(self, request, context):
        rows, cursor = await self.service.list(request.organization_id, request.program_id, request.active_only,
                                               request.limit, request.cursor)
        return execution_pb2.ListExecutionsResponse(executions=[to_proto(r) for r in rows], next_cursor=cursor)

    async def PauseExecution(self, request, context):
        return to_proto(await self.service.pause(request.organization_id, request.execution_id))

    async def ResumeExecution(self, request, context):
        rules = None
        if request.HasField("auto_pause_rules"):
            rules = json_format.MessageToDict(request.auto_pause_rules,
                                              always_print_fields_with_no_presence=True).get("rules", [])
        return to_proto(await self.service.resume(request.organization_id, request.execution_id, rules))

    async def CancelExecution(self, request, context):
        return to_proto(await self.service.cancel(request.organization_id, request.execution_id))

    async def CancelProgramExecution(self, request, context):
        execution_id = await self.service.cancel_program_execution(request.organization_id, request.program_id)
        return execution_pb2.CancelProgramExecutionResponse(execution_id=execution_id)
