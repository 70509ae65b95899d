"""Contacts imported from a CSV file through the REST gateway, as a job."""

from __future__ import annotations

import psycopg
import pytest
from google.protobuf import json_format

from kernel.db import libpq_url
from outbound.audience.v1 import events_pb2
from tests.support.system import System, wait_until

BODY_LIMIT = 100_000  # bytes of a JSON body; the streamed import is not held to it


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account", "audience"], clock_speed=60,
                          extra_env={"MAX_BODY_BYTES": str(BODY_LIMIT), "RATE_LIMIT_PER_SECOND": "0"})


def with_attributes(system: System):
    org = system.create_org()
    for name, type_ in [("Amount", "number"), ("VIP", "boolean"), ("Renewal", "date"), ("Notes", "text")]:
        assert org.post("/custom-attributes", json={"name": name, "type": type_}).status_code == 201
    return org


def upload(org, body: bytes, piece: int = 4096, content_type: str = "text/csv", **params):
    """POST the file as a stream of pieces (chunked: no Content-Length)."""
    def pieces():
        for start in range(0, len(body), piece):
            yield body[start:start + piece]
    return org.http.post("/contacts/import", content=pieces(), headers={"Content-Type": content_type},
                         params=params, timeout=300)


def finished(org, answer) -> dict:
    """The job once it is no longer running."""
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]

    def done():
        job = org.get(f"/imports/{job_id}").json()
        return job if job["status"] != "running" else None
    return wait_until(done, message="the import to finish")


def contacts(org) -> dict[str, dict]:
    out, cursor = {}, None
    while True:
        page = org.get("/contacts", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        out.update({c["phone"]: c for c in page.json()})
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            return out


def created_recorded(system: System, org) -> list[str]:
    """The ids the organization's imports recorded for their contact.created events."""
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        rows = conn.execute("SELECT unnest(contact_ids)::text FROM audience.import_events WHERE organization_id = %s",
                            (org.id,)).fetchall()
    return sorted(row[0] for row in rows)


def staged_events(system: System, org, kind: str) -> dict[str, events_pb2.ContactChanged]:
    """The organization's contact.<kind> events still in the outbox (the relay publishes those
    older than 30 s; the import's are read right after it commits), by contact id."""
    with psycopg.connect(libpq_url(system.database_url)) as conn:
        rows = conn.execute("SELECT payload FROM audience.outbox").fetchall()
    found = (events_pb2.ContactChanged.FromString(bytes(row[0])) for row in rows)
    return {e.contact_id: e for e in found if e.organization_id == org.id and e.kind == kind}


MIXED = (
    b"phone,name,timezone,amount,vip,renewal,notes\n"
    b"+33612340001,Ada,Europe/Paris,42,true,2027-01-15,first\n"   # line 2: good
    b"0612340002,No Plus,,,,,\n"                                    # line 3: phone
    b"+33612340003,Bob,,12.5,NO,,\n"                                # line 4: good
    b"\n"                                                           # line 5: blank, counted
    b"+33612340004,Zed,Mars/Olympus,,,,\n"                          # line 6: timezone
    b"+33612340005,Amy,,lots,,,\n"                                  # line 7: number
    b"+33612340006,Cy,,,maybe,,\n"                                  # line 8: boolean
    b"+33612340007,Di,,,,someday,\n"                                # line 9: date
    b"\"+33 6 12 34 00 08\",\"Smith, Jo\",,,,,\"two\nlines\"\n"     # line 10-11: good, quoted
    b"+33612340001,Ada again,,,,,\n"                                # line 12: repeats line 2
    b"+33612340009,Extra,,,,,,surplus\n"                            # line 13: too many cells
    b"+33612340010\n"                                               # line 14: good, cells missing
)

MIXED_ERRORS = [
    {"line": 3, "field": "phone",
     "message": "phone: invalid phone number (international format starting with + expected)"},
    {"line": 6, "field": "timezone"},
    {"line": 7, "field": "attributes.amount", "message": "attributes.amount: expected a number"},
    {"line": 8, "field": "attributes.vip", "message": "attributes.vip: expected a boolean"},
    {"line": 9, "field": "attributes.renewal"},
    {"line": 12, "field": "phone", "message": "phone: the same phone number as line 2"},
    {"line": 13, "field": "row", "message": "row: 8 cells, the header has 7"},
]


def _matches(errors: list[dict], wanted: list[dict]) -> bool:
    return len(errors) == len(wanted) and all(e.items() >= w.items() for e, w in zip(errors, wanted, strict=True))


def test_good_rows_imported_bad_ones_listed(system):
    org = with_attributes(system)
    answer = upload(org, MIXED, piece=7)
    assert answer.json()["status"] == "running" and answer.json()["rowsRead"] == 11
    job = finished(org, answer)
    assert job["status"] == "completed", job
    assert (job["rowsRead"], job["created"], job["updated"], job["skipped"], job["errorCount"]) == (11, 4, 0, 0, 7)
    assert _matches(job["errors"], MIXED_ERRORS), job["errors"]
    assert job["atomic"] is False and job["onDuplicate"] == "skip" and job["audienceId"] is None
    assert job["finishedAt"] is not None
    saved = contacts(org)
    assert set(saved) == {"+33612340001", "+33612340003", "+33612340008", "+33612340010"}
    ada = saved["+33612340001"]
    assert (ada["name"], ada["timezone"], ada["country"]) == ("Ada", "Europe/Paris", "FR")
    assert ada["attributes"] == {"amount": 42, "vip": True, "renewal": "2027-01-15T00:00:00.000Z", "notes": "first"}
    assert saved["+33612340003"]["attributes"] == {"amount": 12.5, "vip": False}
    assert saved["+33612340008"]["name"] == "Smith, Jo"
    assert saved["+33612340008"]["attributes"] == {"notes": "two\nlines"}
    assert saved["+33612340010"]["name"] is None and saved["+33612340010"]["attributes"] == {}
    # Each created contact is recorded, with it, for its contact.created event (published by the
    # relay: tests/integration/audience/test_import_events.py).
    assert created_recorded(system, org) == sorted(c["id"] for c in saved.values())


def test_atomic_import_with_an_error_imports_nothing(system):
    org = with_attributes(system)
    job = finished(org, upload(org, MIXED, atomic="true"))
    assert job["status"] == "failed" and job["atomic"] is True
    assert (job["created"], job["updated"], job["skipped"], job["errorCount"]) == (0, 0, 0, 7)
    assert _matches(job["errors"], MIXED_ERRORS)
    assert contacts(org) == {}
    clean = finished(org, upload(org, b"phone,name\n+33612340001,Ada\n+33612340003,Bob\n", atomic="true"))
    assert (clean["status"], clean["created"]) == ("completed", 2)
    assert set(contacts(org)) == {"+33612340001", "+33612340003"}


def test_on_duplicate_skip_update_fail(system):
    org = with_attributes(system)
    existing = org.post("/contacts", json={"phone": "+33612340001", "name": "Old", "timezone": "Europe/Paris",
                                           "attributes": {"amount": 1, "notes": "kept"}})
    assert existing.status_code == 201
    body = b"phone,name,amount\n+33612340001,New,2\n+33612340002,Fresh,3\n"

    skipped = finished(org, upload(org, body))
    assert (skipped["created"], skipped["updated"], skipped["skipped"], skipped["errorCount"]) == (1, 0, 1, 0)
    assert contacts(org)["+33612340001"]["name"] == "Old"

    failed = finished(org, upload(org, body, onDuplicate="fail"))
    assert (failed["status"], failed["created"], failed["skipped"], failed["errorCount"]) == ("completed", 0, 0, 2)
    assert failed["errors"] == [
        {"line": 2, "field": "phone", "message": "phone: a contact with this phone number already exists"},
        {"line": 3, "field": "phone", "message": "phone: a contact with this phone number already exists"}]
    atomic_fail = finished(org, upload(org, body + b"+33612340003,Third,4\n", onDuplicate="fail", atomic="true"))
    assert atomic_fail["status"] == "failed" and atomic_fail["errorCount"] == 2
    assert "+33612340003" not in contacts(org)

    updated = finished(org, upload(org, body + b"+33612340003,,\n", onDuplicate="update"))
    assert (updated["created"], updated["updated"], updated["skipped"]) == (1, 2, 0)
    saved = contacts(org)
    first = saved["+33612340001"]
    # Given cells overwrite, empty ones keep, attributes merge.
    assert (first["name"], first["timezone"]) == ("New", "Europe/Paris")
    assert first["attributes"] == {"amount": 2, "notes": "kept"}
    assert first["id"] == existing.json()["id"]
    assert saved["+33612340003"]["name"] is None
    # The updated contact's event holds the attributes that changed, as PATCH tells them.
    updated_event = staged_events(system, org, "updated")[first["id"]]
    assert json_format.MessageToDict(updated_event.changed_attributes) == {"amount": 2}
    assert updated_event.name == "New"


def test_audience_receives_every_contact_of_the_file(system):
    org = system.create_org()
    audience = org.post("/audiences", json={"name": "Imported"}).json()
    assert org.post("/contacts", json={"phone": "+33612340001"}).status_code == 201
    job = finished(org, upload(org, b"phone\n+33612340001\n+33612340002\nbad\n", audienceId=audience["id"]))
    assert (job["created"], job["skipped"], job["errorCount"], job["audienceId"]) == (1, 1, 1, audience["id"])
    members = org.get(f"/audiences/{audience['id']}/contacts", params={"limit": 100}).json()
    assert sorted(m["phone"] for m in members) == ["+33612340001", "+33612340002"]
    assert org.get(f"/audiences/{audience['id']}").json()["contactCount"] == 2

    unknown = upload(org, b"phone\n+33612340003\n", audienceId="00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404 and unknown.json()["error"] == "AudienceNotFoundError"
    assert "+33612340003" not in contacts(org)


def test_refusals_write_nothing(system):
    org = with_attributes(system)
    for header, message in [(b"phone,colour\n", "header: unknown column 'colour'"),
                            (b"name\n", "header: a 'phone' column is required"),
                            (b"phone,Phone\n", "header: column 'phone' appears twice")]:
        answer = upload(org, header + b"+33612340001,x\n")
        assert answer.status_code == 400, answer.text
        assert answer.json() == {"error": "ValidationError", "message": answer.json()["message"]}
        assert answer.json()["message"].startswith(message), answer.json()
    empty = upload(org, b"\n\n")
    assert empty.status_code == 400 and empty.json()["message"].startswith("header:")
    for content_type in ("application/json", "text/plain", "text/csv; charset=latin-1", ""):
        answer = org.http.post("/contacts/import", content=b"phone\n+33612340001\n",
                               headers={"Content-Type": content_type})
        assert answer.status_code == 415, (content_type, answer.text)
        assert answer.json()["error"] == "UnsupportedMediaTypeError"
    # A malformed record after good rows: the upload is refused and none of its rows is written.
    unclosed = upload(org, b"phone,name\n+33612340001,Ada\n+33612340002,\"never closed" + b"x" * 70_000)
    assert unclosed.status_code == 400 and unclosed.json()["message"].startswith("line 3: a record longer than")
    bad_option = upload(org, b"phone\n+33612340001\n", onDuplicate="replace")
    assert bad_option.status_code == 400 and bad_option.json()["error"] == "ValidationError"
    assert contacts(org) == {}


def test_jobs_are_the_organization_s_own(system):
    owner, other = system.create_org(), system.create_org()
    job = finished(owner, upload(owner, b"phone\n+33612340001\n"))
    assert other.get(f"/imports/{job['id']}").status_code == 404
    assert owner.get("/imports/not-a-uuid").json()["error"] == "ImportNotFoundError"


def test_twenty_thousand_rows_import_fully(system):
    org = with_attributes(system)
    rows = "".join(f"+3361{i:07d},Person {i},{i},{'true' if i % 2 else 'false'}\r\n" for i in range(20_000))
    # The last row repeats the first one's phone: the first wins, across the batches applied.
    body = ("\ufeffphone,name,amount,vip\r\n" + rows + "+33610000000,Again,1,true\r\n").encode()
    assert len(body) > BODY_LIMIT
    job = finished(org, upload(org, body, piece=65536))
    assert (job["status"], job["rowsRead"], job["created"], job["errorCount"]) == ("completed", 20_001, 20_000, 1)
    assert job["errors"] == [{"line": 20_002, "field": "phone", "message": "phone: the same phone number as line 2"}]
    saved = contacts(org)
    assert len(saved) == 20_000
    assert saved["+33610019999"]["attributes"] == {"amount": 19999, "vip": True}
    assert saved["+33610000000"]["name"] == "Person 0"
