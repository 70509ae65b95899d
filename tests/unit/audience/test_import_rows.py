"""What an import builds: its contacts' ids, their contact.created events, its error list."""

import time
import uuid
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.timefmt import iso
from outbound.audience.v1 import events_pb2
from services.audience.adapters import events
from services.audience.adapters.import_events import created_events
from services.audience.adapters.rows import ContactRow
from services.audience.domain.import_errors import MAX_KEPT, ErrorTally, ImportErrorRow
from services.audience.imports import time_ordered_id


def test_import_ids_are_version_7_in_canonical_text_and_ordered_by_time():
    made = []
    for _ in range(2000):
        text = time_ordered_id()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
        made.append(parsed)
    assert len(set(made)) == 2000
    # The first 48 bits are the milliseconds it was made at: never earlier than an id made before.
    millis = [u.int >> 80 for u in made]
    assert millis == sorted(millis)
    assert abs(millis[-1] / 1000 - time.time()) < 60


VALUES = st.one_of(st.integers(-(2**53), 2**53), st.booleans(), st.text(max_size=20),
                   st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=300, deadline=None)
@given(name=st.one_of(st.none(), st.text(max_size=10)), timezone=st.sampled_from([None, "Europe/Paris"]),
       attributes=st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), VALUES, max_size=4))
def test_an_imported_contact_s_event_is_the_created_event_with_an_id_of_its_part(name, timezone, attributes):
    now, later = datetime(2026, 12, 7, 10, 0, tzinfo=UTC), datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    org, part = uuid.uuid4(), uuid.uuid4()
    contacts = [ContactRow(uuid.uuid4(), org, f"+3361234567{i}", name, "FR", attributes, now, later, timezone)
                for i in range(3)]
    built = created_events(part, contacts, now)
    again = created_events(part, contacts, now)
    assert [e.id for e in built] == [e.id for e in again]  # published again: the same Nats-Msg-Id
    assert len({e.id for e in built}) == 3
    assert {e.id for e in built}.isdisjoint(e.id for e in created_events(uuid.uuid4(), contacts, now))
    for event, contact in zip(built, contacts, strict=True):
        reference = events.contact_changed("created", str(org), contact, attributes, now, event.id)
        assert (event.subject, event.payload) == ("contact.created", reference.payload)
        told = events_pb2.ContactChanged.FromString(event.payload)
        assert (told.event_id, told.contact_id, told.kind, told.occurred_at) == (
            str(event.id), str(contact.id), "created", iso(now))


def test_errors_keep_the_first_by_line_and_count_them_all():
    tally = ErrorTally()
    for line in range(2, 2 * (MAX_KEPT + 10) + 1, 2):  # rows arrive in file order
        tally.add(line, "phone", "bad")
    assert tally.count == MAX_KEPT + 10 and tally.first[-1].line == 2 * MAX_KEPT
    tally.merge([ImportErrorRow(5, "phone", "repeated"), ImportErrorRow(1, "phone", "repeated")], 7)
    assert tally.count == MAX_KEPT + 10 + 7
    assert len(tally.first) == MAX_KEPT
    assert [e.line for e in tally.first[:5]] == [1, 2, 4, 5, 6]
    assert tally.first[-1].line == 2 * MAX_KEPT - 4
