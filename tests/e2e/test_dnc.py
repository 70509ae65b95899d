"""The do-not-call list and contact time zones through the REST gateway."""

from __future__ import annotations

import random

import pytest

from tests.support.system import System

BODY_LIMIT = 100_000  # bytes of a JSON body; the streamed import is not held to it


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account", "audience"], clock_speed=60,
                          extra_env={"MAX_BODY_BYTES": str(BODY_LIMIT), "RATE_LIMIT_PER_SECOND": "0"})


def assert_error(answer, status: int, name: str, message_start: str = "") -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "message"} and body["error"] == name
    assert body["message"].startswith(message_start), body["message"]


def numbers(start: int, count: int) -> list[str]:
    return [f"+3361{i:07d}" for i in range(start, start + count)]


def listed(org) -> list[dict]:
    """The whole list, page by page."""
    out, cursor = [], None
    while True:
        page = org.get("/dnc", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        out += page.json()
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            return out


def csv_upload(org, body: bytes, piece: int = 4096, **kw):
    """POST the file as a stream of pieces (chunked: no Content-Length)."""
    def pieces():
        for start in range(0, len(body), piece):
            yield body[start:start + piece]
    headers = {"Content-Type": "text/csv", **kw.pop("headers", {})}
    return org.http.post("/dnc/import", content=pieces(), headers=headers, timeout=300, **kw)


def test_add_get_list_delete(system):
    org = system.create_org()
    added = org.post("/dnc", json={"phones": ["+33 6 12 34 56 78", "+33612345678", "0612345678", "+212600000001"],
                                   "reason": "asked by phone"})
    assert added.status_code == 201, added.text
    assert added.json() == {"added": 2, "alreadyListed": 1, "invalid": [
        {"index": 2, "error": "phone: invalid phone number (international format starting with + expected)"}]}
    again = org.post("/dnc", json={"phones": ["+33612345678"]})
    assert again.status_code == 200 and again.json() == {"added": 0, "alreadyListed": 1, "invalid": []}

    entry = org.get("/dnc", params={"phone": "+33612345678"})
    assert entry.status_code == 200
    assert set(entry.json()) == {"phone", "reason", "createdAt"}
    assert entry.json()["phone"] == "+33612345678" and entry.json()["reason"] == "asked by phone"
    # A '+' left unencoded in the query arrives as a space: still the same number.
    assert org.get("/dnc?phone=+33612345678").json() == entry.json()
    assert_error(org.get("/dnc", params={"phone": "+33612345679"}), 404, "DncEntryNotFoundError")
    assert_error(org.get("/dnc", params={"phone": "hello"}), 400, "ValidationError", "phone: invalid phone number")

    org.post("/dnc", json={"phones": numbers(0, 3)})
    page = org.get("/dnc", params={"limit": 2})
    assert page.status_code == 200 and len(page.json()) == 2 and page.headers["X-Next-Cursor"]
    assert [e["phone"] for e in listed(org)] == sorted(["+33612345678", "+212600000001", *numbers(0, 3)])
    assert_error(org.get("/dnc", params={"cursor": "nonsense"}), 400, "ValidationError", "cursor:")

    assert org.delete("/dnc/%2B33612345678").status_code == 204
    assert_error(org.delete("/dnc/%2B33612345678"), 404, "DncEntryNotFoundError")
    assert_error(org.get("/dnc", params={"phone": "+33612345678"}), 404, "DncEntryNotFoundError")
    assert org.delete("/dnc/+212 600 000 001").status_code == 204


@pytest.mark.parametrize("body,message", [
    ({"phones": []}, "phones: at least one number"),
    ({"phones": ["+33612345678"], "reason": "x" * 201}, "reason: at most 200 characters"),
    ({"phones": ["+33612345678"], "why": "unknown field"}, "why: unknown field"),
    ({"phone": "+33612345678"}, "phones:"),
])
def test_bad_adds_are_refused(system, body, message):
    org = system.create_org()
    assert_error(org.post("/dnc", json=body), 400, "ValidationError", message)
    assert listed(org) == []


def test_another_organizations_entries_are_not_found(system):
    owner, intruder = system.create_org(), system.create_org()
    assert owner.post("/dnc", json={"phones": ["+33612345678"]}).status_code == 201
    assert_error(intruder.get("/dnc", params={"phone": "+33612345678"}), 404, "DncEntryNotFoundError")
    assert_error(intruder.delete("/dnc/%2B33612345678"), 404, "DncEntryNotFoundError")
    assert listed(intruder) == []
    imported = csv_upload(intruder, b"+33612345678\n")
    assert imported.status_code == 201 and imported.json()["added"] == 1  # its own list, not the owner's
    assert owner.delete("/dnc/%2B33612345678").status_code == 204
    assert intruder.get("/dnc", params={"phone": "+33612345678"}).status_code == 200


def test_import_of_twenty_thousand_lines_answers_exact_counts(system):
    org = system.create_org()
    assert org.post("/dnc", json={"phones": numbers(0, 500)}).json()["added"] == 500  # listed before
    rng = random.Random(15)
    wanted = numbers(0, 19_000)
    rows = [f'"{p[:5]} {p[5:]}",Person {i}' if i % 10 == 0 else f"{p},Person {i}" for i, p in enumerate(wanted)]
    duplicates = [rng.choice(wanted) + ",again" for _ in range(700)]
    invalid = ["0612345678,no plus", ",empty", "+33 6 12,too short", "phone?,x"] * 75
    data = rows + duplicates + invalid
    rng.shuffle(data)
    lines = ["name_ignored,phone,city"]  # a header: the phone column is the second
    for record in data:
        lines.append(f"x,{record}")
        if rng.random() < 0.01:
            lines.append("")  # blank lines are skipped, but counted
    body = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()
    assert len(body) > BODY_LIMIT

    answer = csv_upload(org, body, params={"reason": "imported"})
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["added"] == 19_000 - 500
    assert result["alreadyListed"] == 500 + 700
    assert result["invalidCount"] == 300
    expected_lines = [n for n, line in enumerate(lines, start=1)
                      if line.split(",")[1:2] in (["0612345678"], [""], ["+33 6 12"], ["phone?"])]
    assert [i["line"] for i in result["invalid"]] == expected_lines
    assert {i["error"] for i in result["invalid"]} == {
        "phone: empty", "phone: invalid phone number (international format starting with + expected)",
        "phone: invalid phone number (+ then 8 to 15 digits expected)"}

    everything = listed(org)
    assert [e["phone"] for e in everything] == wanted
    assert {e["reason"] for e in everything[:500]} == {None} and {e["reason"] for e in everything[500:]} == {
        "imported"}
    # The same file again: nothing new, 200.
    again = csv_upload(org, body, piece=65536)
    assert again.status_code == 200 and (again.json()["added"], again.json()["alreadyListed"]) == (0, 19_700)


def test_import_formats_and_refusals(system):
    org = system.create_org()
    plain = csv_upload(org, b"+33612345678\n\n+33 6 12 34 56 79\n+33612345678\nbad\n", piece=5)
    assert plain.status_code == 201
    assert plain.json() == {"added": 2, "alreadyListed": 1, "invalidCount": 1, "invalid": [
        {"line": 5, "error": "phone: invalid phone number (international format starting with + expected)"}]}
    semicolons = csv_upload(org, b"nom;Phone\n\"Dupont; Jean\";+33612345680\n",
                            headers={"Content-Type": "text/csv; charset=utf-8"})
    assert semicolons.json()["added"] == 1
    empty = csv_upload(org, b"")
    assert empty.status_code == 200 and empty.json() == {"added": 0, "alreadyListed": 0, "invalid": [],
                                                         "invalidCount": 0}

    for content_type in ("application/json", "text/plain", "text/csv; charset=latin-1", ""):
        answer = org.http.post("/dnc/import", content=b"+33612345690\n", headers={"Content-Type": content_type})
        assert_error(answer, 400, "ValidationError", "Content-Type: text/csv")
    assert_error(org.get("/dnc", params={"phone": "+33612345690"}), 404, "DncEntryNotFoundError")
    # A JSON body over the limit is still refused.
    assert_error(org.post("/dnc", json={"phones": numbers(0, 8_000)}), 413, "PayloadTooLargeError")


def test_contact_time_zones(system):
    org = system.create_org()
    created = org.post("/contacts", json={"phone": "+16502530000", "timezone": "America/Los_Angeles"})
    assert created.status_code == 201, created.text
    assert created.json()["timezone"] == "America/Los_Angeles"
    contact_id = created.json()["id"]
    assert org.get(f"/contacts/{contact_id}").json()["timezone"] == "America/Los_Angeles"
    assert_error(org.post("/contacts", json={"phone": "+33612345678", "timezone": "Europe/Pariss"}), 400,
                 "ValidationError", "timezone: unknown time zone")
    assert_error(org.post("/contacts/bulk", json={"contacts": [{"phone": "+33612345678", "timezone": "Europe/Paris"},
                                                               {"phone": "+33612345679", "timezone": 5}]}),
                 400, "ValidationError", "contacts[1].timezone:")
    assert_error(org.patch(f"/contacts/{contact_id}", json={"timezone": "PST"}), 400, "ValidationError",
                 "timezone: unknown time zone")
    assert org.get("/contacts").json()[0]["timezone"] == "America/Los_Angeles"
    assert org.patch(f"/contacts/{contact_id}", json={"name": "Al"}).json()["timezone"] == "America/Los_Angeles"
    assert org.patch(f"/contacts/{contact_id}", json={"timezone": None}).json()["timezone"] is None
    bulk = org.post("/contacts/bulk", json={"contacts": [{"phone": "+33612345678", "timezone": "Europe/Paris"},
                                                         {"phone": "+33612345679"}]})
    assert bulk.status_code == 201
    zones = [org.get(f"/contacts/{i}").json()["timezone"] for i in bulk.json()["contactIds"]]
    assert zones == ["Europe/Paris", None]
