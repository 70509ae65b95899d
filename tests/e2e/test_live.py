"""Live programs end to end: triggers computed at launch, fired in time order, followed as contacts
change, cancelled with the execution; GET /api/programs/{id}/triggers shows every state."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest

from kernel.timefmt import iso, parse_iso
from tests.support.system import DEFAULT_FLOW, Org, System, wait_until

pytestmark = pytest.mark.e2e

TRIGGER_KEYS = {"id", "contactId", "contactName", "contactPhone", "triggerAt", "attributeValue", "status",
                "triggeredAt", "createdAt"}
_numbers = itertools.count(random.randrange(10_000_000, 90_000_000, 1000))
OFFSET = timedelta(days=1)  # "before", 1 day: triggerAt = date_echeance − 1 day


@pytest.fixture(scope="module")
def live_system(system_factory) -> System:
    return system_factory(clock_speed=60)


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def setup_org(system: System) -> tuple[Org, str, list[str]]:
    org = system.create_org(credits=100_000)
    flow_id = ok(org.post("/flows", json=DEFAULT_FLOW), 201)["id"]
    ok(org.post("/custom-attributes", json={"name": "date_echeance", "slug": "date_echeance", "type": "date"}), 201)
    did = system.add_did(f"+2125{next(_numbers):08d}", "MA", org=org.id)
    return org, flow_id, [did.id]


def live_program(org: Org, flow_id: str, dids: list[str], now) -> dict[str, Any]:
    return ok(org.post("/programs", json={
        "name": "Payment Reminder", "mode": "live", "flowId": flow_id,
        "triggerCondition": {"type": "date", "attributeName": "date_echeance", "direction": "before",
                             "offset": {"days": 1, "hours": 0, "minutes": 0}},
        "startAt": iso(now - timedelta(hours=1)), "stopAt": iso(now + timedelta(days=60)),
        "didPool": dids, "retryStrategy": {"type": "none"},
    }), 201)


def contact(org: Org, phone: str, name: str, fire_at=None) -> str:
    body: dict[str, Any] = {"phone": phone, "name": name}
    if fire_at is not None:
        body["attributes"] = {"date_echeance": iso(fire_at + OFFSET)}
    return ok(org.post("/contacts", json=body), 201)["id"]


def triggers(org: Org, program_id: str, status: str | None = None) -> dict[str, dict[str, Any]]:
    params = {"status": status} if status else {}
    items = ok(org.get(f"/programs/{program_id}/triggers", params=params))
    for item in items:
        assert set(item) == TRIGGER_KEYS
    return {t["contactId"]: t for t in items}


def test_live_program_calls_contacts_as_their_triggers_become_due(live_system: System):
    org, flow_id, dids = setup_org(live_system)
    now = parse_iso(ok(org.get("/time"))["now"]).replace(microsecond=0)
    first = contact(org, "+212600001001", "First", now + timedelta(minutes=2))
    second = contact(org, "+212600001002", "Second", now + timedelta(minutes=5))
    third = contact(org, "+212600001003", "Third", now + timedelta(minutes=8))
    moved = contact(org, "+212600001004", "Moved", now + timedelta(days=20))
    deleted = contact(org, "+212600001005", "Deleted", now + timedelta(days=20))
    remaining = contact(org, "+212600001006", "Remaining", now + timedelta(days=25))
    contact(org, "+212600001007", "No date")
    program = live_program(org, flow_id, dids, now)
    program_id, output_audience = program["id"], program["audienceId"]

    execution_id = ok(org.post(f"/programs/{program_id}/launch"), 201)["executionId"]
    at_launch = triggers(org, program_id)
    assert set(at_launch) == {first, second, third, moved, deleted, remaining}
    one = at_launch[remaining]
    assert one["contactName"] == "Remaining" and one["contactPhone"] == "+212600001006"
    assert parse_iso(one["triggerAt"]) == parse_iso(one["attributeValue"]) - OFFSET
    assert one["status"] == "pending" and one["triggeredAt"] is None

    # A new date moves the pending trigger; deleting the contact cancels its trigger.
    new_fire = now + timedelta(minutes=11)
    ok(org.patch(f"/contacts/{moved}", json={"attributes": {"date_echeance": iso(new_fire + OFFSET)}}))
    ok(org.delete(f"/contacts/{deleted}"), 204)
    wait_until(lambda: parse_iso(triggers(org, program_id)[moved]["triggerAt"]) == new_fire,
               message="the moved trigger")
    wait_until(lambda: triggers(org, program_id)[deleted]["status"] == "cancelled",
               message="the deleted contact's trigger cancelled")

    totals = []

    def calls() -> list[dict[str, Any]]:
        totals.append(ok(org.get(f"/program-executions/{execution_id}"))["totalContacts"])
        return ok(org.get(f"/program-executions/{execution_id}/calls"))

    placed = wait_until(lambda: (lambda c: c if len(c) >= 4 else None)(calls()),
                        message="four calls placed")
    fired = triggers(org, program_id)
    assert [c["contactId"] for c in placed] == [first, second, third, moved]
    for call in placed:
        assert parse_iso(call["startedAt"]) >= parse_iso(fired[call["contactId"]]["triggerAt"])
    # totalContacts grows as triggers fire, never shrinks.
    assert totals == sorted(totals) and totals[-1] == 4
    assert ok(org.get(f"/program-executions/{execution_id}"))["totalContacts"] == 4
    wait_until(lambda: ok(org.get(f"/audiences/{output_audience}"))["contactCount"] == 4,
               message="output audience filled")

    for contact_id in (first, second, third, moved):
        assert fired[contact_id]["status"] == "triggered"
        assert parse_iso(fired[contact_id]["triggeredAt"]) >= parse_iso(fired[contact_id]["triggerAt"])
    assert fired[remaining]["status"] == "pending"
    assert set(triggers(org, program_id, "triggered")) == {first, second, third, moved}
    assert set(triggers(org, program_id, "cancelled")) == {deleted}
    assert set(triggers(org, program_id, "pending")) == {remaining}

    # Cancelling the execution cancels the triggers still pending.
    ok(org.delete(f"/program-executions/{execution_id}"), 204)
    wait_until(lambda: triggers(org, program_id, "pending") == {}, message="pending triggers cancelled")
    assert set(triggers(org, program_id, "cancelled")) == {deleted, remaining}
    assert ok(org.get(f"/program-executions/{execution_id}"))["totalContacts"] == 4


def test_triggers_endpoint_errors_and_paging(live_system: System):
    org, flow_id, dids = setup_org(live_system)
    now = parse_iso(ok(org.get("/time"))["now"])
    for i in range(5):
        contact(org, f"+21260000200{i}", f"C{i}", now + timedelta(days=10 + i))
    program = live_program(org, flow_id, dids, now)
    program_id = program["id"]
    assert ok(org.get(f"/programs/{program_id}/triggers")) == []
    ok(org.post(f"/programs/{program_id}/launch"), 201)

    first_page = org.get(f"/programs/{program_id}/triggers", params={"limit": 2})
    assert first_page.status_code == 200 and len(first_page.json()) == 2
    cursor = first_page.headers["X-Next-Cursor"]
    rest = ok(org.get(f"/programs/{program_id}/triggers", params={"limit": 10, "cursor": cursor}))
    at = [t["triggerAt"] for t in first_page.json() + rest]
    assert len(at) == 5 and at == sorted(at)

    bad_status = org.get(f"/programs/{program_id}/triggers", params={"status": "fired"})
    assert bad_status.status_code == 400 and bad_status.json()["error"] == "ValidationError"
    too_many = org.get(f"/programs/{program_id}/triggers", params={"limit": 1001})
    assert too_many.status_code == 400 and too_many.json()["error"] == "ValidationError"

    unknown = org.get(f"/programs/{uuid.uuid4()}/triggers")
    assert unknown.status_code == 404 and unknown.json()["error"] == "ProgramNotFoundError"
    assert org.get("/programs/not-a-uuid/triggers").status_code == 404
    other = live_system.create_org(name="Other")
    stranger = other.get(f"/programs/{program_id}/triggers")
    assert stranger.status_code == 404 and stranger.json()["error"] == "ProgramNotFoundError"

    audience_id = ok(org.post("/audiences", json={"name": "Batch"}), 201)["id"]
    batch = ok(org.post("/programs", json={
        "name": "Batch", "audienceId": audience_id, "flowId": flow_id, "startAt": iso(now),
        "didPool": dids, "retryStrategy": {"type": "none"}}), 201)
    not_live = org.get(f"/programs/{batch['id']}/triggers")
    assert not_live.status_code == 400
    assert not_live.json() == {"error": "BadRequestException", "message": "Program is not in live mode"}
