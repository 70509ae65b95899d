"""trigger.fired on the TRIGGERS stream, de-duplicated by trigger id."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext

from kernel import jetstream
from kernel.timefmt import iso
from outbound.trigger.v1 import events_pb2
from services.trigger.adapters.triggers import TriggerRow

SUBJECT = "trigger.fired"


def msg_id(trigger_id: str) -> str:
    return f"{SUBJECT}:{trigger_id}"


def fired_event(row: TriggerRow) -> events_pb2.TriggerFired:
    return events_pb2.TriggerFired(
        trigger_id=row.id, execution_id=row.execution_id, organization_id=row.organization_id,
        program_id=row.program_id, contact_id=row.contact_id, phone=row.contact_phone,
        name=row.contact_name or "", country=row.contact_country, trigger_at=iso(row.trigger_at),
        fired_at=iso(row.triggered_at),
    )


class FiredPublisher:
    def __init__(self, js: JetStreamContext):
        self._js = js

    async def publish(self, rows: Sequence[TriggerRow]) -> None:
        ordered = sorted(rows, key=lambda r: (r.trigger_at, r.id))
        await jetstream.publish_many(
            self._js, ((SUBJECT, fired_event(r).SerializeToString(), msg_id(r.id)) for r in ordered))
