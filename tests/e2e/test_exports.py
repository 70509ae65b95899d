"""CSV exports of an execution and the dashboard's call listings, through the gateway: the files
hold exactly the rows and values of the JSON listings; the statistics count the same calls."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from kernel.timefmt import iso, parse_iso
from tests.support.campaigns import ALWAYS_BUSY, ANSWER, RETRY_THEN_ANSWER, SIM_RULES, Tenant, serial
from tests.support.system import System

pytestmark = pytest.mark.e2e

CALL_COLUMNS = ["id", "contactId", "phone", "attempt", "didNumber", "outcome", "startedAt", "answeredAt",
                "endedAt", "talkSeconds", "nodeIds", "sipCode", "q850Cause", "amdResult", "amdDecisionMs"]
CONTACT_COLUMNS = ["contactId", "phone", "state", "attempts", "lastOutcome", "nextAttemptAt", "blockedBy",
                   "skippedReason"]


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


@pytest.fixture(scope="module")
def finished(tenant: Tenant) -> str:
    """An ended execution with answered, busy and retried calls."""
    made = tenant.org.post("/audiences", json={"name": "mixed"})
    assert made.status_code == 201, made.text
    audience = made.json()["id"]
    kinds = [ANSWER] * 6 + [ALWAYS_BUSY] * 3 + [RETRY_THEN_ANSWER] * 3
    contacts = [{"phone": f"+2126{kind}{next(serial):07d}"} for kind in kinds]
    added = tenant.org.post("/contacts/bulk", json={"contacts": contacts, "audienceId": audience})
    assert added.status_code == 201, added.text
    program = tenant.program(audience, retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])
    tenant.wait_status(execution_id, "completed")
    return execution_id


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(value)
    return str(value)


def call_cells(call: dict[str, Any]) -> list[str]:
    amd = call["amd"] or {}
    flat = {**call, "amdResult": amd.get("result"), "amdDecisionMs": amd.get("decisionMs")}
    return [cell(flat[c]) for c in CALL_COLUMNS]


def read_csv(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8"))))


def all_contacts(tenant: Tenant, execution_id: str) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        answer = tenant.org.get(f"/program-executions/{execution_id}/contacts",
                                params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        out += answer.json()
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return out


def test_calls_csv_holds_the_rows_and_values_of_the_json_listing(tenant: Tenant, finished: str):
    calls = tenant.calls(finished)
    assert len(calls) == 6 + 3 * 3 + 3 * 3 and {c["outcome"] for c in calls} == {"answered", "busy"}
    answer = tenant.org.get(f"/program-executions/{finished}/calls.csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="execution-{finished}-calls.csv"'
    rows = read_csv(answer)
    assert rows[0] == CALL_COLUMNS
    assert rows[1:] == [call_cells(c) for c in calls]
    assert all(row[CALL_COLUMNS.index("nodeIds")] for row in rows[1:] if row[5] == "answered")


def test_contacts_csv_holds_every_contact_final_state(tenant: Tenant, finished: str):
    contacts = all_contacts(tenant, finished)
    assert len(contacts) == 12
    answer = tenant.org.get(f"/program-executions/{finished}/contacts.csv")
    assert answer.headers["content-disposition"] == f'attachment; filename="execution-{finished}-contacts.csv"'
    rows = read_csv(answer)
    assert rows[0] == CONTACT_COLUMNS
    assert rows[1:] == [[cell(c[k]) for k in CONTACT_COLUMNS] for c in contacts]
    assert Counter(row[2] for row in rows[1:]) == {"completed": 9, "failed": 3}


def test_exports_of_an_unknown_or_foreign_execution_are_404(fast: System, tenant: Tenant, finished: str):
    other = fast.create_org()
    for org, execution_id in ((tenant.org, str(uuid.uuid4())), (other, finished)):
        for name in ("calls.csv", "contacts.csv"):
            answer = org.get(f"/program-executions/{execution_id}/{name}")
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"] == "ExecutionNotFoundError"
    assert fast.http.get(f"/program-executions/{finished}/calls.csv").status_code == 401


def test_calls_newest_first_is_the_placing_order_reversed_on_every_page(tenant: Tenant, finished: str):
    placed = [c["id"] for c in tenant.calls(finished)]
    newest, cursor = [], None
    while True:
        answer = tenant.org.get(f"/program-executions/{finished}/calls",
                                params={"order": "newest", "limit": 5, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()) <= 5
        newest += [c["id"] for c in answer.json()]
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert newest == placed[::-1]
    bad = tenant.org.get(f"/program-executions/{finished}/calls", params={"order": "oldest"})
    assert (bad.status_code, bad.json()["error"]) == (400, "ValidationError")


def expected_buckets(calls: list[dict[str, Any]], width: int) -> list[dict[str, Any]]:
    per: dict[int, Counter] = defaultdict(Counter)
    for c in calls:
        ended = parse_iso(c["endedAt"]).timestamp()
        per[int(ended // width) * width][c["outcome"]] += 1
    return [{"start": iso(datetime.fromtimestamp(start, UTC)), "total": sum(per[start].values()),
             "outcomes": dict(per[start])} for start in sorted(per)]


def test_call_stats_count_the_calls_per_bucket_and_outcome(tenant: Tenant, finished: str):
    calls = tenant.calls(finished)
    for width in (10, 60, 3600):
        answer = tenant.org.get(f"/program-executions/{finished}/call-stats", params={"bucketSeconds": width})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["bucketSeconds"] == width
        got = [{**b, "start": iso(parse_iso(b["start"]))} for b in body["buckets"]]
        assert got == expected_buckets(calls, width)
        assert sum(b["total"] for b in body["buckets"]) == len(calls)
    default = tenant.org.get(f"/program-executions/{finished}/call-stats").json()
    assert default["bucketSeconds"] == 60


def test_call_stats_refuse_a_bucket_out_of_range_and_an_unknown_execution(tenant: Tenant, finished: str):
    for width in (9, 3601, 0):
        answer = tenant.org.get(f"/program-executions/{finished}/call-stats", params={"bucketSeconds": width})
        assert (answer.status_code, answer.json()["error"]) == (400, "ValidationError"), answer.text
    missing = tenant.org.get(f"/program-executions/{uuid.uuid4()}/call-stats")
    assert (missing.status_code, missing.json()["error"]) == (404, "ExecutionNotFoundError")
