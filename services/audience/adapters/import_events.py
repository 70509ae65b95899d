"""The contact.created events of imports: published from `import_events`, a part at a time.

An import records the ids of the contacts it created, EVENT_PART per row, in the transaction
that creates them: none is lost, and the import writes one small row per thousand contacts
rather than an outbox row per contact. Once a part is older than RELAY_AFTER_SECONDS (as the
outbox's leftovers are), any replica takes it (FOR UPDATE SKIP LOCKED), publishes one
contact.created event per contact that still exists, and deletes the part in the same
transaction. The event is built from the contact as it is then: one deleted meanwhile has its
contact.deleted event and no created one; one updated meanwhile is told with its current values
and the import's time (consumers keep the newest by `occurredAt`, so its contact.updated wins).

Each event's id is derived from the part and the contact (UUID 5): a part published again after a
crash (published, not yet deleted) sends the same Nats-Msg-Id, which JetStream drops.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import jetstream, logs, loops
from services.audience.adapters import repository as repo
from services.audience.adapters.events import (
    RELAY_AFTER_SECONDS,
    RELAY_EVERY_SECONDS,
    PendingEvent,
    contact_changed,
)
from services.audience.adapters.rows import ContactRow

log = logs.get("audience.import_events")


def created_event_id(part_id: uuid.UUID, contact_id: uuid.UUID) -> uuid.UUID:
    """The id of a part's event for one contact: the same whenever the part is published."""
    return uuid.uuid5(part_id, str(contact_id))


def created_events(part_id: uuid.UUID, contacts: list[ContactRow], occurred_at: datetime) -> list[PendingEvent]:
    """A part's contact.created events: every attribute of each contact, as the import tells it."""
    return [contact_changed("created", str(c.organization_id), c, c.attributes, occurred_at,
                            created_event_id(part_id, c.id)) for c in contacts]


class ImportEventRelay:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, after_seconds: float = RELAY_AFTER_SECONDS):
        self.engine = engine
        self.js = js
        self.after_seconds = after_seconds

    async def relay_forever(self) -> None:
        """A part published is followed by the next at once, while there are parts."""
        await loops.every(RELAY_EVERY_SECONDS, self.relay_once, log=log, what="import event relay",
                          busy=lambda published: published > 0)

    async def relay_once(self) -> int:
        """Publish the oldest waiting part; answers how many events it sent (0: none waiting)."""
        async with self.engine.begin() as conn:
            part = (await conn.execute(text(
                "SELECT id, occurred_at, contact_ids FROM import_events "
                "WHERE created_at < now() - make_interval(secs => :age) "
                "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"), {"age": self.after_seconds})).first()
            if part is None:
                return 0
            contacts = await repo.contacts_by_ids(conn, list(part.contact_ids))
            events = created_events(part.id, contacts, part.occurred_at)
            await jetstream.publish_many(self.js, ((e.subject, e.payload, str(e.id)) for e in events))
            await conn.execute(text("DELETE FROM import_events WHERE id = :id"), {"id": part.id})
        log.info("import events published", extra={"events": len(events), "part": str(part.id)})
        return max(len(events), 1)  # a part whose contacts are all gone still counts as work done
