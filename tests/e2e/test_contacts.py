"""Contacts and custom attributes through the REST gateway."""

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


def with_attributes(system: System):
    org = system.create_org()
    for name, type_ in [("Date échéance", "date"), ("Amount", "number"), ("VIP", "boolean"), ("Notes", "text")]:
        assert org.post("/custom-attributes", json={"name": name, "type": type_}).status_code == 201
    return org


def test_custom_attributes(system):
    org = system.create_org()
    created = org.post("/custom-attributes", json={"name": "Date échéance", "type": "date"})
    assert created.status_code == 201
    body = created.json()
    assert body["slug"] == "date_echeance" and body["type"] == "date" and body["name"] == "Date échéance"
    assert set(body) == {"id", "name", "slug", "type", "createdAt"}
    explicit = org.post("/custom-attributes", json={"name": "Score", "slug": "score_v2", "type": "number"})
    assert explicit.json()["slug"] == "score_v2"
    assert_error(org.post("/custom-attributes", json={"name": "Again", "slug": "date_echeance", "type": "text"}),
                 409, "ConflictError", "slug:")
    assert_error(org.post("/custom-attributes", json={"name": "Colour", "type": "colour"}), 400, "ValidationError",
                 "type:")
    assert_error(org.post("/custom-attributes", json={"name": "Bad", "slug": "Not A Slug", "type": "text"}), 400,
                 "ValidationError", "slug:")
    assert_error(org.post("/custom-attributes", json={"name": "X", "type": "text", "extra": 1}), 400,
                 "ValidationError", "extra:")
    assert [a["slug"] for a in org.get("/custom-attributes").json()] == ["date_echeance", "score_v2"]
    page = org.get("/custom-attributes", params={"limit": 1})
    assert len(page.json()) == 1 and page.headers["X-Next-Cursor"]
    rest = org.get("/custom-attributes", params={"limit": 1, "cursor": page.headers["X-Next-Cursor"]})
    assert [a["slug"] for a in rest.json()] == ["score_v2"]


def test_contact_crud(system):
    org = with_attributes(system)
    created = org.post("/contacts", json={"phone": "+212 600-000001", "name": "Ahmed Benali",
                                          "attributes": {"date_echeance": "2026-03-20", "amount": 120.5,
                                                         "vip": True, "notes": "call mornings"}})
    assert created.status_code == 201, created.text
    contact = created.json()
    assert set(contact) == {"id", "phone", "name", "country", "attributes", "timezone", "createdAt", "updatedAt"}
    assert contact["phone"] == "+212600000001" and contact["country"] == "MA"
    assert contact["attributes"] == {"date_echeance": "2026-03-20T00:00:00.000Z", "amount": 120.5, "vip": True,
                                     "notes": "call mornings"}
    assert org.get(f"/contacts/{contact['id']}").json() == contact

    patched = org.patch(f"/contacts/{contact['id']}", json={
        "attributes": {"date_echeance": "2026-03-21T09:30:00+01:00", "amount": None, "vip": False}})
    assert patched.status_code == 200
    assert patched.json()["attributes"] == {"date_echeance": "2026-03-21T08:30:00.000Z", "vip": False,
                                            "notes": "call mornings"}
    assert patched.json()["name"] == "Ahmed Benali"
    renamed = org.patch(f"/contacts/{contact['id']}", json={"name": None, "phone": "+33612345678"}).json()
    assert renamed["name"] is None and renamed["phone"] == "+33612345678" and renamed["country"] == "FR"

    other = org.post("/contacts", json={"phone": "+212600000002", "attributes": {"amount": 3}}).json()
    assert other["attributes"] == {"amount": 3} and other["name"] is None
    listed = org.get("/contacts").json()
    assert [c["id"] for c in listed] == [contact["id"], other["id"]]

    assert org.delete(f"/contacts/{contact['id']}").status_code == 204
    assert_error(org.get(f"/contacts/{contact['id']}"), 404, "ContactNotFoundError")
    assert_error(org.delete(f"/contacts/{contact['id']}"), 404, "ContactNotFoundError")
    assert [c["id"] for c in org.get("/contacts").json()] == [other["id"]]


@pytest.mark.parametrize("payload,message", [
    ({"phone": "0600000001"}, "phone: invalid phone number"),
    ({"phone": "+1 555"}, "phone: invalid phone number"),
    ({"phone": "+212600000001", "attributes": {"colour": "red"}}, "attributes.colour: unknown custom attribute"),
    ({"phone": "+212600000001", "attributes": {"amount": "12"}}, "attributes.amount: expected a number"),
    ({"phone": "+212600000001", "attributes": {"vip": "yes"}}, "attributes.vip: expected a boolean"),
    ({"phone": "+212600000001", "attributes": {"date_echeance": "20/03/2026"}}, "attributes.date_echeance:"),
    ({"phone": "+212600000001", "attributes": {"notes": 5}}, "attributes.notes: expected a string"),
    ({"name": "No phone"}, "phone:"),
])
def test_invalid_contacts_write_nothing(system, payload, message):
    org = with_attributes(system)
    assert_error(org.post("/contacts", json=payload), 400, "ValidationError", message)
    assert org.get("/contacts").json() == []


def test_invalid_patch_changes_nothing(system):
    org = with_attributes(system)
    contact = org.post("/contacts", json={"phone": "+212600000001", "attributes": {"amount": 1}}).json()
    assert_error(org.patch(f"/contacts/{contact['id']}", json={"attributes": {"amount": True}}), 400,
                 "ValidationError", "attributes.amount:")
    assert_error(org.patch(f"/contacts/{contact['id']}", json={"attributes": {"unknown": 1}}), 400,
                 "ValidationError", "attributes.unknown: unknown custom attribute")
    assert_error(org.patch(f"/contacts/{contact['id']}", json={"phone": "12"}), 400, "ValidationError", "phone:")
    assert org.get(f"/contacts/{contact['id']}").json() == contact


def test_duplicate_phone_is_a_conflict(system):
    org = with_attributes(system)
    org.post("/contacts", json={"phone": "+212600000001"})
    assert_error(org.post("/contacts", json={"phone": "+212 6 00 00 00 01"}), 409, "ConflictError", "phone:")
    assert len(org.get("/contacts").json()) == 1


def test_bulk_import(system):
    org = with_attributes(system)
    contacts = [{"phone": f"+2126{i:08d}", "name": f"C{i}", "attributes": {"amount": i}} for i in range(2000)]
    answer = org.post("/contacts/bulk", json={"contacts": contacts})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["created"] == 2000 and len(body["contactIds"]) == 2000
    fifth = org.get(f"/contacts/{body['contactIds'][5]}").json()
    assert fifth["phone"] == "+212600000005" and fifth["attributes"] == {"amount": 5}

    seen, cursor = [], None
    while True:
        page = org.get("/contacts", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        seen += [c["id"] for c in page.json()]
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(body["contactIds"])


def test_bulk_import_into_an_audience(system):
    org = with_attributes(system)
    audience = org.post("/audiences", json={"name": "Imported"}).json()
    answer = org.post("/contacts/bulk", json={"contacts": [{"phone": "+212600000001"}, {"phone": "+33612345678"}],
                                              "audienceId": audience["id"]})
    assert answer.status_code == 201
    assert org.get(f"/audiences/{audience['id']}").json()["contactCount"] == 2


@pytest.mark.parametrize("contacts,status,name,message", [
    ([{"phone": f"+2126{i:08d}"} for i in range(10_001)], 400, "ValidationError", "contacts: at most 10000"),
    ([{"phone": "+212600000001"}, {"phone": "bad"}], 400, "ValidationError", "contacts[1].phone: invalid phone"),
    ([{"phone": "+212600000001"}, {"phone": "+212600000001"}], 400, "ValidationError",
     "contacts[1].phone: duplicate of contacts[0].phone"),
    ([{"phone": "+212600000001", "attributes": {"nope": 1}}], 400, "ValidationError",
     "contacts[0].attributes.nope: unknown custom attribute"),
    ([{"phone": "+212600000001", "attributes": {"amount": "x"}}], 400, "ValidationError",
     "contacts[0].attributes.amount: expected a number"),
    ([], 400, "ValidationError", "contacts:"),
])
def test_bulk_import_errors_write_nothing(system, contacts, status, name, message):
    org = with_attributes(system)
    assert_error(org.post("/contacts/bulk", json={"contacts": contacts}), status, name, message)
    assert org.get("/contacts").json() == []


def test_bulk_import_of_a_known_phone_conflicts(system):
    org = with_attributes(system)
    org.post("/contacts", json={"phone": "+212600000001"})
    answer = org.post("/contacts/bulk", json={"contacts": [{"phone": "+212600000002"}, {"phone": "+212600000001"}]})
    assert_error(answer, 409, "ConflictError", "contacts[1].phone:")
    assert len(org.get("/contacts").json()) == 1


def test_other_organizations_contacts_are_invisible(system):
    owner, intruder = with_attributes(system), with_attributes(system)
    contact = owner.post("/contacts", json={"phone": "+212600000001", "name": "Mine"}).json()
    assert_error(intruder.get(f"/contacts/{contact['id']}"), 404, "ContactNotFoundError")
    assert_error(intruder.patch(f"/contacts/{contact['id']}", json={"name": "Stolen"}), 404, "ContactNotFoundError")
    assert_error(intruder.delete(f"/contacts/{contact['id']}"), 404, "ContactNotFoundError")
    assert_error(intruder.get("/contacts/not-a-uuid"), 404, "ContactNotFoundError")
    assert intruder.get("/contacts").json() == []
    assert owner.get(f"/contacts/{contact['id']}").json() == contact
    # The same number may be a contact of both organizations.
    assert intruder.post("/contacts", json={"phone": "+212600000001"}).status_code == 201


def test_list_limit_is_validated(system):
    org = system.create_org()
    assert_error(org.get("/contacts", params={"limit": 0}), 400, "ValidationError", "limit:")
    assert_error(org.get("/contacts", params={"limit": 1001}), 400, "ValidationError", "limit:")
    assert_error(org.get("/contacts", params={"cursor": "garbage"}), 400, "ValidationError", "cursor:")
