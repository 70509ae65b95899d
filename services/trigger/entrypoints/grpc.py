"""TriggerService servicer: proto in, use case, proto out."""

from __future__ import annotations

from campaign_rules import trigger_condition
from kernel.timefmt import iso
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from services.trigger.adapters.triggers import TriggerRow
from services.trigger.service import StartRequest, TriggerService


def trigger_message(row: TriggerRow) -> trigger_pb2.ContactTrigger:
    message = trigger_pb2.ContactTrigger(
        id=row.id, contact_id=row.contact_id, contact_phone=row.contact_phone, trigger_at=iso(row.trigger_at),
        attribute_value=iso(row.attribute_value), status=row.status, triggered_at=iso(row.triggered_at),
        created_at=iso(row.created_at), execution_id=row.execution_id,
    )
    if row.contact_name is not None:
        message.contact_name = row.contact_name
    return message


class TriggerServicer(trigger_pb2_grpc.TriggerServiceServicer):
    def __init__(self, service: TriggerService):
        self.service = service

    async def StartLiveExecution(self, request, context):
        condition = trigger_condition.from_proto(request.trigger_condition)
        created = await self.service.start_live_execution(StartRequest(
            organization_id=request.organization_id, program_id=request.program_id,
            execution_id=request.execution_id, condition=condition,
            output_audience_id=request.output_audience_id))
        return trigger_pb2.StartLiveExecutionResponse(triggers_created=created)

    async def EndLiveExecution(self, request, context):
        cancelled = await self.service.end_live_execution(request.execution_id)
        return trigger_pb2.EndLiveExecutionResponse(cancelled=cancelled)

    async def ListTriggers(self, request, context):
        rows, cursor = await self.service.list_triggers(request.organization_id, request.program_id,
                                                        request.status, request.limit, request.cursor)
        return trigger_pb2.ListTriggersResponse(triggers=[trigger_message(r) for r in rows], next_cursor=cursor)
