"""Audiences and their members through the REST gateway."""

from __future__ import annotations

import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "audience"], clock_speed=60)
    return system


def assert_error(answer, status: int, name: str, message_start: str = "") -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == name
    assert body["message"].startswith(message_start), body["message"]


def contacts(org, n: int, base: int = 0) -> list[str]:
    answer = org.post("/contacts/bulk", json={"contacts": [{"phone": f"+2126{base + i:08d}"} for i in range(n)]})
    assert answer.status_code == 201, answer.text
    return answer.json()["contactIds"]


def members(org, audience_id: str, limit: int = 1000) -> list[str]:
    seen, cursor = [], None
    while True:
        page = org.get(f"/audiences/{audience_id}/contacts", params={"limit": limit, **({"cursor": cursor} if cursor
                                                                                         else {})})
        assert page.status_code == 200, page.text
        seen += [c["id"] for c in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            return seen


def test_create_get_list(system):
    org = system.create_org()
    created = org.post("/audiences", json={"name": "VIP customers", "description": "Top tier"})
    assert created.status_code == 201
    audience = created.json()
    assert set(audience) == {"id", "name", "description", "contactCount", "createdAt", "updatedAt"}
    assert audience["contactCount"] == 0 and audience["name"] == "VIP customers"
    assert org.get(f"/audiences/{audience['id']}").json() == audience
    second = org.post("/audiences", json={"name": "Others"}).json()
    assert second["description"] == ""
    assert [a["id"] for a in org.get("/audiences").json()] == [audience["id"], second["id"]]
    page = org.get("/audiences", params={"limit": 1})
    assert [a["id"] for a in page.json()] == [audience["id"]]
    rest = org.get("/audiences", params={"limit": 1, "cursor": page.headers["X-Next-Cursor"]})
    assert [a["id"] for a in rest.json()] == [second["id"]]


@pytest.mark.parametrize("payload,message", [({}, "name:"), ({"name": "  "}, "name:"),
                                             ({"name": "x", "colour": "red"}, "colour:")])
def test_invalid_audiences_write_nothing(system, payload, message):
    org = system.create_org()
    assert_error(org.post("/audiences", json=payload), 400, "ValidationError", message)
    assert org.get("/audiences").json() == []


def test_members(system):
    org = system.create_org()
    ids = contacts(org, 30)
    audience = org.post("/audiences", json={"name": "Members"}).json()
    url = f"/audiences/{audience['id']}/contacts"

    added = org.post(url, json={"contactIds": ids[:20]})
    assert added.status_code == 200 and added.json() == {"added": 20, "contactCount": 20}
    again = org.post(url, json={"contactIds": ids[10:25]})
    assert again.json() == {"added": 5, "contactCount": 25}
    assert org.get(f"/audiences/{audience['id']}").json()["contactCount"] == 25
    assert sorted(members(org, audience["id"], limit=7)) == sorted(ids[:25])

    removed = org.http.request("DELETE", url, json={"contactIds": ids[:5]})
    assert removed.status_code == 200 and removed.json() == {"removed": 5, "contactCount": 20}
    # Deleting a contact removes it from its audiences.
    assert org.delete(f"/contacts/{ids[7]}").status_code == 204
    assert org.get(f"/audiences/{audience['id']}").json()["contactCount"] == 19
    assert sorted(members(org, audience["id"])) == sorted(set(ids[5:25]) - {ids[7]})
    # The contacts removed from the audience still exist.
    assert org.get(f"/contacts/{ids[0]}").status_code == 200

    first = org.get(url, params={"limit": 1}).json()[0]
    assert set(first) == {"id", "phone", "name", "country", "attributes", "timezone", "createdAt", "updatedAt"}


def test_unknown_or_foreign_contacts_are_not_added(system):
    owner, intruder = system.create_org(), system.create_org()
    mine = contacts(owner, 3)
    theirs = contacts(intruder, 1, base=500)
    audience = owner.post("/audiences", json={"name": "A"}).json()
    url = f"/audiences/{audience['id']}/contacts"
    assert_error(owner.post(url, json={"contactIds": [*mine, theirs[0]]}), 404, "ContactNotFoundError",
                 "contactIds[3]:")
    assert_error(owner.post(url, json={"contactIds": ["nope"]}), 404, "ContactNotFoundError", "contactIds[0]:")
    assert_error(owner.post(url, json={"contactIds": "x"}), 400, "ValidationError", "contactIds:")
    assert owner.get(f"/audiences/{audience['id']}").json()["contactCount"] == 0
    assert members(owner, audience["id"]) == []


def test_other_organizations_audiences_are_invisible(system):
    owner, intruder = system.create_org(), system.create_org()
    ids = contacts(owner, 2)
    audience = owner.post("/audiences", json={"name": "Private"}).json()
    owner.post(f"/audiences/{audience['id']}/contacts", json={"contactIds": ids})
    url = f"/audiences/{audience['id']}/contacts"
    intruder_ids = contacts(intruder, 1, base=900)

    assert_error(intruder.get(f"/audiences/{audience['id']}"), 404, "AudienceNotFoundError")
    assert_error(intruder.get(url), 404, "AudienceNotFoundError")
    assert_error(intruder.post(url, json={"contactIds": intruder_ids}), 404, "AudienceNotFoundError")
    assert_error(intruder.http.request("DELETE", url, json={"contactIds": intruder_ids}), 404,
                 "AudienceNotFoundError")
    assert_error(intruder.post("/contacts/bulk", json={"contacts": [{"phone": "+33612345678"}],
                                                       "audienceId": audience["id"]}), 404, "AudienceNotFoundError")
    assert_error(intruder.get("/audiences/not-a-uuid"), 404, "AudienceNotFoundError")
    assert intruder.get("/audiences").json() == []
    assert len(intruder.get("/contacts").json()) == 1
    assert owner.get(f"/audiences/{audience['id']}").json()["contactCount"] == 2
