"""GET /api/dids/available through the gateway."""

from __future__ import annotations

import uuid

import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "dialer"], clock_speed=60)
    return system


def unique() -> str:
    return f"+21252{uuid.uuid4().int % 10**7:07d}"


def test_available_dids_are_shared_or_own_and_active(system):
    acme, globex = system.create_org("Acme"), system.create_org("Globex")
    shared = system.add_did(unique())
    own = system.add_did(unique(), org=acme.id)
    theirs = system.add_did(unique(), org=globex.id)
    off = system.add_did(unique(), org=acme.id, inactive=True)

    answer = acme.get("/dids/available")
    assert answer.status_code == 200
    body = answer.json()
    assert isinstance(body, list)
    by_id = {d["id"]: d for d in body}
    assert by_id[shared.id] == {"id": shared.id, "number": shared.number, "country": "MA"}
    assert by_id[own.id] == {"id": own.id, "number": own.number, "country": "MA"}
    assert theirs.id not in by_id and off.id not in by_id
    assert theirs.id in {d["id"] for d in globex.get("/dids/available").json()}


def test_available_dids_are_paginated(system):
    org = system.create_org()
    mine = {system.add_did(unique(), org=org.id).id for _ in range(3)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = org.get("/dids/available", params=params)
        assert answer.status_code == 200
        page = answer.json()
        assert len(page) <= 2
        seen += [d["id"] for d in page]
        cursor = answer.headers.get("x-next-cursor")
        if not cursor:
            break
    assert mine <= set(seen)
    assert len(seen) == len(set(seen))


def test_limits_and_auth(system):
    org = system.create_org()
    assert org.get("/dids/available", params={"limit": 0}).status_code == 400
    assert org.get("/dids/available", params={"cursor": "%%%"}).json()["error"] == "ValidationError"
    assert system.http.get("/dids/available").status_code == 401
