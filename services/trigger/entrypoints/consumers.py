"""JetStream consumers of the trigger context: contact changes and execution ends."""

from __future__ import annotations

import contextlib

from google.protobuf import json_format
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kernel import jetstream, logs, metrics
from kernel.timefmt import InvalidTimestamp, parse_iso
from outbound.audience.v1 import events_pb2 as audience_events
from outbound.execution.v1 import events_pb2 as execution_events
from services.trigger.service import ContactEvent, ExecutionPrecomputing, TriggerService

log = logs.get("trigger.consumers")

CONTACTS = jetstream.ConsumerSpec(stream="CONTACTS", durable="trigger-contacts", filter_subject="contact.>",
                                  batch_size=200)
EXECUTIONS_ENDED = jetstream.ConsumerSpec(stream="EXECUTIONS", durable="trigger-execution-ended",
                                          filter_subject="execution.ended", batch_size=50)
# Real seconds before a contact event waiting for a launch snapshot is tried again.
SNAPSHOT_RETRY_SECONDS = 1.0


def contact_event(msg: Msg) -> ContactEvent:
    event = audience_events.ContactChanged.FromString(msg.data)
    occurred = None
    if event.occurred_at:
        with contextlib.suppress(InvalidTimestamp):
            occurred = parse_iso(event.occurred_at)
    kind = event.kind or msg.subject.rsplit(".", 1)[-1]
    changed = json_format.MessageToDict(event.changed_attributes) if event.HasField("changed_attributes") else {}
    return ContactEvent(organization_id=event.organization_id, contact_id=event.contact_id, kind=kind,
                        phone=event.phone, name=event.name or None, country=event.country,
                        changed=changed, occurred_at=occurred)


class ContactChangesConsumer:
    def __init__(self, js: JetStreamContext, service: TriggerService):
        self.js = js
        self.service = service

    async def run(self) -> None:
        await jetstream.run_pull_consumer(self.js, CONTACTS, self.handle,
                                          on_redelivery=metrics.redelivery_counter(CONTACTS.durable))

    async def handle(self, msgs: list[Msg]) -> None:
        events: list[tuple[Msg, ContactEvent]] = []
        for msg in msgs:
            try:
                events.append((msg, contact_event(msg)))
            except Exception:
                log.error("unreadable contact event terminated", extra={"subject": msg.subject})
                await msg.term()
        executions = await self.service.relevant_executions([e.organization_id for _, e in events
                                                             if e.organization_id])
        for msg, event in events:
            concerned = executions.get(event.organization_id)
            if not concerned:
                continue
            try:
                await self.service.handle_contact_event(event, concerned)
            except ExecutionPrecomputing:
                await msg.nak(delay=SNAPSHOT_RETRY_SECONDS)


class ExecutionEndedConsumer:
    def __init__(self, js: JetStreamContext, service: TriggerService):
        self.js = js
        self.service = service

    async def run(self) -> None:
        await jetstream.run_pull_consumer(self.js, EXECUTIONS_ENDED, self.handle,
                                          on_redelivery=metrics.redelivery_counter(EXECUTIONS_ENDED.durable))

    async def handle(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            try:
                event = execution_events.ExecutionLifecycle.FromString(msg.data)
            except Exception:
                log.error("unreadable execution event terminated", extra={"subject": msg.subject})
                await msg.term()
                continue
            if event.mode and event.mode != "live":
                continue
            await self.service.end_live_execution(event.execution_id)
