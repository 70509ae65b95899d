"""JetStream consumers: call results, fired live triggers, archived programs."""

from __future__ import annotations

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kernel import jetstream, logs, metrics
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.program.v1 import events_pb2 as program_events
from outbound.trigger.v1 import events_pb2 as trigger_events
from services.execution.service import ExecutionService

log = logs.get("execution.consumers")

CALL_RESULTS = jetstream.ConsumerSpec(stream="CALLS", durable="execution-call-results", filter_subject="call.>",
                                      batch_size=500, ack_wait_seconds=60)
TRIGGERS_FIRED = jetstream.ConsumerSpec(stream="TRIGGERS", durable="execution-triggers-fired",
                                        filter_subject="trigger.fired", batch_size=500)
PROGRAMS_ARCHIVED = jetstream.ConsumerSpec(stream="PROGRAMS", durable="execution-programs-archived",
                                           filter_subject="program.archived", batch_size=50)


def _parse(msgs: list[Msg], message_type):
    parsed = []
    for msg in msgs:
        try:
            parsed.append((msg, message_type.FromString(msg.data)))
        except Exception:
            log.error("undecodable message terminated", extra={"subject": msg.subject})
            msg._ackd = True  # settled below by term()
            parsed.append((msg, None))
    return parsed


async def _term_poison(parsed) -> None:
    for msg, payload in parsed:
        if payload is None:
            await msg.term()


def call_results(js: JetStreamContext, service: ExecutionService):
    async def handle(msgs: list[Msg]) -> None:
        parsed = _parse(msgs, dialer_events.CallResult)
        await _term_poison(parsed)
        await service.apply_call_results([p for _, p in parsed if p is not None])

    async def run() -> None:
        await jetstream.run_pull_consumer(js, CALL_RESULTS, handle,
                                          on_redelivery=metrics.redelivery_counter(CALL_RESULTS.durable))

    return run


def triggers_fired(js: JetStreamContext, service: ExecutionService):
    async def handle(msgs: list[Msg]) -> None:
        parsed = _parse(msgs, trigger_events.TriggerFired)
        await _term_poison(parsed)
        await service.on_triggers_fired([fired for _, fired in parsed if fired is not None])

    async def run() -> None:
        await jetstream.run_pull_consumer(js, TRIGGERS_FIRED, handle,
                                          on_redelivery=metrics.redelivery_counter(TRIGGERS_FIRED.durable))

    return run


def programs_archived(js: JetStreamContext, service: ExecutionService):
    async def handle(msgs: list[Msg]) -> None:
        parsed = _parse(msgs, program_events.ProgramArchived)
        await _term_poison(parsed)
        for _, archived in parsed:
            if archived is not None:
                await service.on_program_archived(archived.organization_id, archived.program_id)

    async def run() -> None:
        await jetstream.run_pull_consumer(js, PROGRAMS_ARCHIVED, handle,
                                          on_redelivery=metrics.redelivery_counter(PROGRAMS_ARCHIVED.durable))

    return run
