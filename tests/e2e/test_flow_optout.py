"""/api/flows with `optout` nodes through the gateway: accepted, answered as given, validated."""

from __future__ import annotations

import pytest

from tests.support.system import System

STOP = "You will not be called again."


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account", "dialer"], clock_speed=60)


def menu(stop: dict) -> dict:
    return {"name": "Reminder", "startNodeId": "menu", "nodes": [
        {"id": "menu", "type": "gather", "prompt": "Press 9 to stop these calls", "options": {"9": "stop"},
         "noInput": "bye"},
        stop,
        {"id": "bye", "type": "hangup"},
    ]}


@pytest.mark.parametrize("stop", [
    {"id": "stop", "type": "optout", "text": STOP, "next": "bye"},
    {"id": "stop", "type": "optout", "text": STOP},
])
def test_optout_nodes_are_created_and_answered_as_given(system, stop):
    org = system.create_org()
    created = org.post("/flows", menu(stop))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["nodes"][1] == stop
    assert org.get(f"/flows/{body['id']}").json() == body


@pytest.mark.parametrize("stop, message", [
    ({"id": "stop", "type": "optout"}, "nodes[1].text: required"),
    ({"id": "stop", "type": "optout", "text": STOP, "audioId": "a1"}, "nodes[1].audioId: not allowed on an optout node"),
    ({"id": "stop", "type": "optout", "text": STOP, "next": "nowhere"}, "nodes[1].next: unknown node 'nowhere'"),
    ({"id": "stop", "type": "optout", "text": STOP, "next": "menu"}, "nodes[1].next: cycle back to node 'menu'"),
])
def test_invalid_optout_nodes_are_400_and_write_nothing(system, stop, message):
    org = system.create_org()
    answer = org.post("/flows", menu(stop))
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "ValidationError", "message": message}
    assert org.get("/flows").json() == []
