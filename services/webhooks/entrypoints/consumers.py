"""JetStream consumers of the webhooks context: execution status changes and completed calls.

Each has its own durable consumer, so webhooks read the streams beside the contexts that act on
them and never slow them. A batch's deliveries are inserted (idempotently) before it is acked;
an unreadable message is terminated and logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kernel import jetstream, logs, metrics
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import events_pb2 as execution_events
from services.webhooks.domain.events import Event
from services.webhooks.entrypoints.mapping import call_events, status_changed_events
from services.webhooks.service import WebhookService

log = logs.get("webhooks.consumers")

STATUS_CHANGES = jetstream.ConsumerSpec(stream="EXECUTIONS", durable="webhooks-execution-status",
                                        filter_subject="execution.status_changed", batch_size=200)
CALLS = jetstream.ConsumerSpec(stream="CALLS", durable="webhooks-calls", filter_subject="call.completed",
                               batch_size=500)


def _status_changed(data: bytes, received: datetime) -> list[Event]:
    return status_changed_events(execution_events.ExecutionStatusChanged.FromString(data), received)


def _call_completed(data: bytes, received: datetime) -> list[Event]:
    return call_events(dialer_events.CallResult.FromString(data), received)


class EventConsumer:
    def __init__(self, js: JetStreamContext, service: WebhookService, spec: jetstream.ConsumerSpec,
                 decode: Callable[[bytes, datetime], list[Event]]):
        self.js = js
        self.service = service
        self.spec = spec
        self.decode = decode

    async def run(self) -> None:
        await jetstream.run_pull_consumer(self.js, self.spec, self.handle,
                                          on_redelivery=metrics.redelivery_counter(self.spec.durable))

    async def handle(self, msgs: list[Msg]) -> None:
        received = datetime.now(UTC)
        found: list[Event] = []
        for msg in msgs:
            try:
                found.extend(self.decode(msg.data, received))
            except Exception:
                log.error("unreadable event terminated", extra={"subject": msg.subject})
                await msg.term()
        await self.service.fan_out(found)


def consumers(js: JetStreamContext, service: WebhookService) -> list[Any]:
    return [EventConsumer(js, service, STATUS_CHANGES, _status_changed),
            EventConsumer(js, service, CALLS, _call_completed)]
