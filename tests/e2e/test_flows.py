"""/api/flows through the gateway: create, read, list, validation and tenancy."""

from __future__ import annotations

import copy

import pytest

from tests.support.system import DEFAULT_FLOW, System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "dialer"], clock_speed=60)
    return system


def flow(**changes) -> dict:
    body = copy.deepcopy(DEFAULT_FLOW)
    body.update(changes)
    return body


def test_create_get_and_list(system):
    org = system.create_org()
    created = org.post("/flows", flow())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Reminder" and body["startNodeId"] == "welcome"
    assert body["organizationId"] == org.id and body["createdAt"].endswith("Z")
    assert body["nodes"] == [
        {"id": "welcome", "type": "say", "text": "Hello", "next": "menu"},
        {"id": "menu", "type": "gather", "prompt": "Press 1", "options": {"1": "confirm"},
         "timeoutSeconds": 5, "noInput": "bye"},
        {"id": "confirm", "type": "say", "text": "Thanks", "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ]
    assert org.get(f"/flows/{body['id']}").json() == body
    transfer = org.post("/flows", flow(name="Agent", startNodeId="t", nodes=[
        {"id": "t", "type": "transfer", "to": "+212600000001", "next": "end"},
        {"id": "end", "type": "hangup"}]))
    assert transfer.status_code == 201, transfer.text
    listed = org.get("/flows")
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()] == [body["id"], transfer.json()["id"]]
    page = org.get("/flows", params={"limit": 1})
    assert len(page.json()) == 1 and page.headers.get("x-next-cursor")
    rest = org.get("/flows", params={"limit": 1, "cursor": page.headers["x-next-cursor"]})
    assert [f["id"] for f in rest.json()] == [transfer.json()["id"]]


@pytest.mark.parametrize("changes, message", [
    ({"nodes": [{"id": "a", "type": "say", "text": "Hi", "next": "x"}, {"id": "b", "type": "hangup"}],
      "startNodeId": "a"}, "nodes[0].next: unknown node 'x'"),
    ({"nodes": [{"id": "a", "type": "say", "text": "Hi", "next": "a2"}, {"id": "a", "type": "hangup"}],
      "startNodeId": "a"}, "nodes[1].id: duplicate node id 'a'"),
    ({"nodes": [{"id": "a", "type": "say", "text": "Hi", "next": "b"},
                {"id": "b", "type": "say", "text": "Again", "next": "a"}, {"id": "c", "type": "hangup"}],
      "startNodeId": "a"}, "nodes[1].next: cycle back to node 'a'"),
    ({"startNodeId": "nowhere"}, "startNodeId: unknown node 'nowhere'"),
    ({"nodes": []}, "nodes: at least one node is required"),
    ({"nodes": [{"id": "bye", "type": "beep"}], "startNodeId": "bye"}, "nodes[0].type"),
    ({"nodes": [{"id": "bye", "type": "hangup", "colour": "red"}], "startNodeId": "bye"},
     "nodes[0].colour: unknown field"),
])
def test_invalid_flows_are_400_and_write_nothing(system, changes, message):
    org = system.create_org()
    answer = org.post("/flows", flow(**changes))
    assert answer.status_code == 400
    assert answer.json()["error"] == "ValidationError"
    assert answer.json()["message"].startswith(message)
    assert org.get("/flows").json() == []


def test_another_organizations_flow_is_404(system):
    acme, globex = system.create_org("Acme"), system.create_org("Globex")
    created = acme.post("/flows", flow()).json()
    answer = globex.get(f"/flows/{created['id']}")
    assert answer.status_code == 404
    assert answer.json()["error"] == "FlowNotFoundError"
    assert globex.get("/flows").json() == []
    assert globex.get("/flows/not-a-uuid").status_code == 404
