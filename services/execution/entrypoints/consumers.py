"""JetStream consumers: call results, fired live triggers, archived programs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kernel import jetstream, logs, metrics
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.program.v1 import events_pb2 as program_events
from outbound.trigger.v1 import events_pb2 as trigger_events
from services.execution.entrypoints.mapping import call_result, fired_trigger
from services.execution.lifecycle import Lifecycle
from services.execution.results import Results

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


def _consumer(js: JetStreamContext, spec: jetstream.ConsumerSpec, message_type,
              apply: Callable[[list], Awaitable[None]]):
    """A consumer applying each batch's decodable messages at once; the undecodable are terminated."""
    async def handle(msgs: list[Msg]) -> None:
        parsed = _parse(msgs, message_type)
        await _term_poison(parsed)
        await apply([payload for _, payload in parsed if payload is not None])

    async def run() -> None:
        await jetstream.run_pull_consumer(js, spec, handle, on_redelivery=metrics.redelivery_counter(spec.durable))

    return run


def call_results(js: JetStreamContext, results: Results):
    async def apply(messages: list) -> None:
        await results.apply_call_results([call_result(m) for m in messages])

    return _consumer(js, CALL_RESULTS, dialer_events.CallResult, apply)


def triggers_fired(js: JetStreamContext, results: Results):
    async def apply(messages: list) -> None:
        await results.on_triggers_fired([fired_trigger(m) for m in messages])

    return _consumer(js, TRIGGERS_FIRED, trigger_events.TriggerFired, apply)


def programs_archived(js: JetStreamContext, lifecycle: Lifecycle):
    async def apply(archived: list) -> None:
        for event in archived:
            await lifecycle.cancel_program_execution(event.organization_id, event.program_id)

    return _consumer(js, PROGRAMS_ARCHIVED, program_events.ProgramArchived, apply)
