"""contact.* events: written to the outbox in the change's transaction, published after commit.

A crash between commit and publish leaves rows in the outbox; the relay loop republishes
them with the same Nats-Msg-Id, so JetStream drops any copy it already has.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import jetstream, logs, loops
from kernel.timefmt import iso
from outbound.audience.v1 import events_pb2
from services.audience.adapters.rows import ContactRow

log = logs.get("audience.events")

RELAY_AFTER_SECONDS = 30
RELAY_BATCH = 1000
RELAY_EVERY_SECONDS = 5


class PendingEvent:
    __slots__ = ("id", "subject", "payload")

    def __init__(self, id: uuid.UUID, subject: str, payload: bytes):
        self.id = id
        self.subject = subject
        self.payload = payload


def contact_changed(kind: str, organization_id: str, contact: ContactRow, changed: dict[str, Any],
                    occurred_at: datetime, event_id: uuid.UUID | None = None) -> PendingEvent:
    event_id = event_id or uuid.uuid4()
    attrs = struct_pb2.Struct()
    attrs.update(changed)
    message = events_pb2.ContactChanged(
        event_id=str(event_id), organization_id=organization_id, contact_id=str(contact.id), kind=kind,
        phone=contact.phone, name=contact.name or "", country=contact.country, changed_attributes=attrs,
        occurred_at=iso(occurred_at), timezone=contact.timezone or "",
    )
    return PendingEvent(event_id, f"contact.{kind}", message.SerializeToString())


async def stage(conn: AsyncConnection, events: list[PendingEvent]) -> None:
    if not events:
        return
    await conn.execute(text(
        "INSERT INTO outbox (id, subject, payload) "
        "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:subjects AS text[]), CAST(:payloads AS bytea[]))"),
        {"ids": [e.id for e in events], "subjects": [e.subject for e in events],
         "payloads": [e.payload for e in events]})


class EventPublisher:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext):
        self.engine = engine
        self.js = js

    async def _publish(self, events: Iterable[PendingEvent]) -> list[uuid.UUID]:
        events = list(events)
        await jetstream.publish_many(self.js, ((e.subject, e.payload, str(e.id)) for e in events))
        return [e.id for e in events]

    async def _forget(self, ids: list[uuid.UUID]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(text("DELETE FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})

    async def publish_committed(self, events: list[PendingEvent]) -> None:
        """After commit: publish, then drop from the outbox. Failures are left to the relay."""
        if not events:
            return
        try:
            await self._forget(await self._publish(events))
        except Exception as exc:
            log.warning("event publish failed; the outbox relay will retry",
                        extra={"events": len(events), "error": repr(exc)})

    async def relay_forever(self) -> None:
        """Republish outbox rows older than RELAY_AFTER_SECONDS (their publisher died); a full batch
        is followed by the next at once."""
        await loops.every(RELAY_EVERY_SECONDS, self.relay_once, log=log, what="outbox relay",
                          busy=lambda published: published >= RELAY_BATCH)

    async def relay_once(self) -> int:
        async with self.engine.begin() as conn:
            rows = (await conn.execute(text(
                "SELECT id, subject, payload FROM outbox "
                "WHERE created_at < now() - make_interval(secs => :age) "
                "ORDER BY created_at LIMIT :n FOR UPDATE SKIP LOCKED"),
                {"age": RELAY_AFTER_SECONDS, "n": RELAY_BATCH})).all()
            if not rows:
                return 0
            ids = await self._publish(PendingEvent(r.id, r.subject, bytes(r.payload)) for r in rows)
            await conn.execute(text("DELETE FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})
        log.info("outbox relayed", extra={"events": len(ids)})
        return len(ids)
