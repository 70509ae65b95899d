"""Another organization's key sees nothing of ours: every id of another tenant answers 404
(never 403, never data), lists leave it out, references to it are refused, and nothing of
ours changes through it. One test per resource."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from kernel.timefmt import iso
from tests.support.campaigns import SIM_RULES, Tenant, serial
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def owner(system: System) -> Tenant:
    return Tenant(system, credits=777)


@pytest.fixture(scope="module")
def intruder(system: System) -> Tenant:
    return Tenant(system, credits=5)


@pytest.fixture(scope="module")
def world(owner: Tenant) -> dict[str, Any]:
    """Everything the owner has: attribute, contact, audience, flow, batch and live programs,
    a finished execution with calls, triggers."""
    org = owner.org
    attribute = org.post("/custom-attributes", json={"name": "Due", "slug": "due", "type": "date"}).json()
    due = iso(owner.system.now() + timedelta(days=30))
    contact = org.post("/contacts", json={"phone": f"+21269{next(serial):07d}", "name": "Secret Name",
                                          "attributes": {"due": due}}).json()
    audience = owner.audience(2)
    assert org.post(f"/audiences/{audience}/contacts", json={"contactIds": [contact["id"]]}).status_code == 200
    program = owner.program(audience)
    execution = owner.launch(program["id"])
    owner.wait_status(execution, "completed")
    live = org.post("/programs", json={
        "name": "Live", "mode": "live", "flowId": owner.flow_id,
        "triggerCondition": {"type": "date", "attributeName": "due", "direction": "before",
                             "offset": {"days": 1, "hours": 0, "minutes": 0}},
        "startAt": iso(owner.system.now() - timedelta(minutes=1)), "didPool": [d.id for d in owner.dids],
        "retryStrategy": {"type": "none"}}).json()
    live_execution = owner.launch(live["id"])
    wait_until(lambda: org.get(f"/programs/{live['id']}/triggers").json(), message="a pending trigger")
    return {"attribute": attribute, "contact": contact, "audience": audience, "program": program,
            "execution": execution, "live": live, "live_execution": live_execution}


def not_found(answer: httpx.Response, error: str) -> None:
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert body == {"error": error, "message": body["message"]}, body


def leaks(answer: httpx.Response, *secrets: str) -> bool:
    return any(secret in answer.text for secret in secrets)


def test_contacts(owner, intruder, world):
    contact = world["contact"]
    them = intruder.org
    not_found(them.get(f"/contacts/{contact['id']}"), "ContactNotFoundError")
    not_found(them.patch(f"/contacts/{contact['id']}", json={"name": "Hijacked"}), "ContactNotFoundError")
    not_found(them.delete(f"/contacts/{contact['id']}"), "ContactNotFoundError")
    assert not leaks(them.get("/contacts", params={"limit": 1000}), contact["id"], contact["phone"], "Secret Name")
    # The same phone number is theirs to have: organizations do not share contacts.
    assert them.post("/contacts", json={"phone": contact["phone"]}).status_code == 201
    mine = owner.org.get(f"/contacts/{contact['id']}").json()
    assert mine["name"] == "Secret Name" and mine["attributes"]["due"]


def test_custom_attributes(owner, intruder, world):
    them = intruder.org
    assert not leaks(them.get("/custom-attributes"), world["attribute"]["id"])
    answer = them.post("/contacts", json={"phone": f"+21269{next(serial):07d}", "attributes": {"due": "2030-01-01"}})
    assert answer.status_code == 400 and "attributes.due" in answer.json()["message"], answer.text
    # Their own attribute of the same slug is a different one.
    assert them.post("/custom-attributes", json={"name": "Due", "slug": "due", "type": "text"}).status_code == 201
    assert [a["type"] for a in owner.org.get("/custom-attributes").json() if a["slug"] == "due"] == ["date"]


def test_audiences(owner, intruder, world):
    them, audience = intruder.org, world["audience"]
    not_found(them.get(f"/audiences/{audience}"), "AudienceNotFoundError")
    not_found(them.get(f"/audiences/{audience}/contacts"), "AudienceNotFoundError")
    theirs = them.post("/contacts", json={"phone": f"+21269{next(serial):07d}"}).json()["id"]
    not_found(them.post(f"/audiences/{audience}/contacts", json={"contactIds": [theirs]}), "AudienceNotFoundError")
    not_found(them.http.request("DELETE", f"/audiences/{audience}/contacts",
                                json={"contactIds": [world["contact"]["id"]]}), "AudienceNotFoundError")
    assert not leaks(them.get("/audiences"), audience)
    # Their own audience cannot take our contact either.
    own = them.post("/audiences", json={"name": "mine"}).json()["id"]
    not_found(them.post(f"/audiences/{own}/contacts", json={"contactIds": [world["contact"]["id"]]}),
              "ContactNotFoundError")
    assert owner.org.get(f"/audiences/{audience}").json()["contactCount"] == 3


def test_flows(owner, intruder, world):
    them = intruder.org
    not_found(them.get(f"/flows/{owner.flow_id}"), "FlowNotFoundError")
    assert not leaks(them.get("/flows"), owner.flow_id)


def test_programs(owner, intruder, world):
    them, program = intruder.org, world["program"]["id"]
    not_found(them.get(f"/programs/{program}"), "ProgramNotFoundError")
    not_found(them.patch(f"/programs/{program}", json={"name": "Hijacked"}), "ProgramNotFoundError")
    not_found(them.delete(f"/programs/{program}"), "ProgramNotFoundError")
    not_found(them.post(f"/programs/{program}/launch"), "ProgramNotFoundError")
    not_found(them.get(f"/programs/{program}/executions"), "ProgramNotFoundError")
    assert not leaks(them.get("/programs"), program, world["live"]["id"])
    # Our flow, audience and DIDs cannot be used in their programs.
    mine = {"name": "x", "flowId": intruder.flow_id, "audienceId": world["audience"], "didPool": [intruder.dids[0].id],
            "startAt": iso(intruder.system.now()), "retryStrategy": {"type": "none"}}
    for changes, field in (({}, "audienceId"), ({"audienceId": None, "flowId": owner.flow_id}, "flowId"),
                           ({"audienceId": None, "didPool": [owner.dids[0].id]}, "didPool")):
        body = {**mine, **changes}
        if body["audienceId"] is None:
            body["audienceId"] = them.post("/audiences", json={"name": "a"}).json()["id"]
        answer = them.post("/programs", json=body)
        assert answer.status_code in (400, 404) and answer.json()["message"].startswith(field), answer.text
    assert owner.org.get(f"/programs/{program}").json()["name"] == "Campaign"


def test_executions(owner, intruder, world):
    them, execution = intruder.org, world["execution"]
    for method, path in (("GET", f"/program-executions/{execution}"),
                         ("PATCH", f"/program-executions/{execution}/pause"),
                         ("PATCH", f"/program-executions/{execution}/resume"),
                         ("DELETE", f"/program-executions/{execution}"),
                         ("DELETE", f"/program-executions/{world['live_execution']}")):
        not_found(them.http.request(method, path), "ExecutionNotFoundError")
    assert not leaks(them.get("/program-executions"), execution, world["live_execution"])
    assert owner.org.get(f"/program-executions/{world['live_execution']}").json()["status"] == "running"


def test_calls(owner, intruder, world):
    not_found(intruder.org.get(f"/program-executions/{world['execution']}/calls"), "ExecutionNotFoundError")
    assert len(owner.calls(world["execution"])) == 3


def test_triggers(owner, intruder, world):
    not_found(intruder.org.get(f"/programs/{world['live']['id']}/triggers"), "ProgramNotFoundError")
    assert owner.org.get(f"/programs/{world['live']['id']}/triggers").json()


def test_credits_and_dids(owner, intruder, world):
    credits = intruder.org.get("/credits").json()
    assert credits == {"balance": 5, "reserved": 0, "available": 5}
    assert owner.org.get("/credits").json()["balance"] < 777, "the owner's calls were charged to the owner"
    available = intruder.org.get("/dids/available", params={"limit": 1000}).text
    assert not any(d.id in available or d.number in available for d in owner.dids)
