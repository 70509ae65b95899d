"""The contact.created events of an import: its parts in `import_events`, published by the relay
to real JetStream, one event per contact still there, each with the id of its part."""

from __future__ import annotations

import asyncio
import uuid

import nats
import psycopg
from google.protobuf import json_format

from kernel.db import create_engine, libpq_url
from outbound.audience.v1 import audience_pb2 as pb
from outbound.audience.v1 import events_pb2
from services.audience.adapters.import_events import ImportEventRelay, created_event_id
from tests.integration.audience.test_audience_service import call
from tests.integration.audience.test_contact_imports import import_contacts, rows_chunk
from tests.support.system import HANG_GUARD_SECONDS, wait_until

ROWS = 2_500  # parts of 1,000, 1,000 and 500


def parts(system, org: str) -> list[tuple[uuid.UUID, list[uuid.UUID]]]:
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        return [(r[0], list(r[1])) for r in conn.execute(
            "SELECT id, contact_ids FROM audience.import_events WHERE organization_id = %s ORDER BY contact_ids[1]",
            (org,)).fetchall()]


async def test_the_relay_publishes_each_imported_contact_once_with_its_part_s_event_id(audience):
    system, stub = audience
    org = str(uuid.uuid4())
    call(stub.CreateAttribute, pb.CreateAttributeRequest(organization_id=org, name="Amount", type="number"))
    rows = [(2 + i, [f"+3361{i:07d}", f"Person {i}", "Europe/Paris" if i == 7 else "", str(i)]) for i in range(ROWS)]
    header = ["phone", "name", "timezone", "amount"]
    job = import_contacts(stub, [pb.ContactImportChunk(organization_id=org, header=header),
                                 rows_chunk(rows[:1200]), rows_chunk(rows[1200:], last=True)])

    def done():
        found = call(stub.GetContactImport, pb.GetContactImportRequest(organization_id=org, import_id=job.id))
        return found if found.status != "running" else None
    finished = wait_until(done, message="the import to finish")
    assert (finished.status, finished.created) == ("completed", ROWS)

    recorded = parts(system, org)
    assert sorted(len(ids) for _, ids in recorded) == [500, 1000, 1000]
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        contacts = {r[0]: r for r in conn.execute(
            "SELECT id, phone, name, timezone FROM audience.contacts WHERE organization_id = %s", (org,)).fetchall()}
    assert {i for _, ids in recorded for i in ids} == set(contacts)
    # A contact deleted before its part is published has its contact.deleted event, no created one.
    gone = recorded[0][1][0]
    call(stub.DeleteContact, pb.DeleteContactRequest(organization_id=org, contact_id=str(gone)))

    engine = create_engine(system.database_url, "audience")
    nc = await nats.connect(system.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("contact.created", ordered_consumer=True)
        relay = ImportEventRelay(engine, js, after_seconds=0)
        while parts(system, org):
            await relay.relay_once()
        part_of = {contact: part for part, ids in recorded for contact in ids}
        seen: dict[str, tuple[events_pb2.ContactChanged, str]] = {}
        while len(seen) < ROWS - 1:
            msg = await asyncio.wait_for(sub.next_msg(timeout=HANG_GUARD_SECONDS), HANG_GUARD_SECONDS)
            event = events_pb2.ContactChanged.FromString(msg.data)
            if event.organization_id == org:
                assert event.contact_id not in seen, "an imported contact's event published twice"
                seen[event.contact_id] = (event, msg.headers["Nats-Msg-Id"])
    finally:
        await nc.close()
        await engine.dispose()

    assert set(seen) == {str(c) for c in contacts if c != gone}
    for contact_id, (event, msg_id) in seen.items():
        expected = str(created_event_id(part_of[uuid.UUID(contact_id)], uuid.UUID(contact_id)))
        assert event.event_id == msg_id == expected
        assert event.kind == "created" and event.occurred_at == finished.created_at
    told = next(event for event, _ in seen.values() if event.phone == "+33610000007")
    assert (told.name, told.timezone, told.country) == ("Person 7", "Europe/Paris", "FR")
    assert json_format.MessageToDict(told.changed_attributes) == {"amount": 7}
    assert parts(system, org) == []
