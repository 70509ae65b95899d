"""ExecutionService servicer: proto in, use case, proto out."""

from __future__ import annotations

from outbound.execution.v1 import execution_pb2, execution_pb2_grpc
from services.execution.change_feed import ChangeFeed
from services.execution.contact_queries import ContactQueries
from services.execution.entrypoints.mapping import change_to_proto, contact_to_proto, resume_rules, to_proto
from services.execution.launch import Launch
from services.execution.lifecycle import Lifecycle
from services.execution.queries import Queries


class ExecutionServicer(execution_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, launch: Launch, queries: Queries, lifecycle: Lifecycle, contacts: ContactQueries,
                 changes: ChangeFeed):
        self.launch = launch
        self.queries = queries
        self.lifecycle = lifecycle
        self.contacts = contacts
        self.changes = changes

    async def LaunchProgram(self, request, context):
        execution_id = await self.launch.launch(request.organization_id, request.program_id)
        return execution_pb2.LaunchProgramResponse(execution_id=execution_id)

    async def GetExecution(self, request, context):
        detail = await self.queries.get_detail(request.organization_id, request.execution_id)
        return to_proto(detail.execution, detail.auto_pause_counters, detail.held_until)

    async def ListExecutions(self, request, context):
        rows, cursor = await self.queries.list(request.organization_id, request.program_id, request.active_only,
                                               request.limit, request.cursor)
        return execution_pb2.ListExecutionsResponse(executions=[to_proto(r) for r in rows], next_cursor=cursor)

    async def PauseExecution(self, request, context):
        return to_proto(await self.lifecycle.pause(request.organization_id, request.execution_id))

    async def ResumeExecution(self, request, context):
        return to_proto(await self.lifecycle.resume(request.organization_id, request.execution_id,
                                                    resume_rules(request)))

    async def CancelExecution(self, request, context):
        return to_proto(await self.lifecycle.cancel(request.organization_id, request.execution_id))

    async def CancelProgramExecution(self, request, context):
        execution_id = await self.lifecycle.cancel_program_execution(request.organization_id, request.program_id)
        return execution_pb2.CancelProgramExecutionResponse(execution_id=execution_id)

    async def ListExecutionContacts(self, request, context):
        views, cursor = await self.contacts.list(request.organization_id, request.execution_id, request.state,
                                                 request.limit, request.cursor)
        return execution_pb2.ListExecutionContactsResponse(contacts=[contact_to_proto(v) for v in views],
                                                           next_cursor=cursor)

    async def GetExecutionContact(self, request, context):
        return contact_to_proto(await self.contacts.get(request.organization_id, request.execution_id,
                                                        request.contact_id))

    async def ListStatusChanges(self, request, context):
        changes = await self.changes.list(request.organization_id, request.execution_id, request.after_seq,
                                          request.limit)
        return execution_pb2.ListStatusChangesResponse(changes=[change_to_proto(c) for c in changes])
