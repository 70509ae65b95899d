"""Bad input through REST: malformed JSON, wrong types, huge arrays, unicode edge cases,
negative and overflowing numbers, far-past and far-future dates, oversized bodies (also
chunked, without a Content-Length). Each is a 4xx with {"error", "message"}; nothing is
written; never a 5xx."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from kernel.timefmt import iso
from tests.support.campaigns import Tenant, serial
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(clock_speed=60, extra_env={"RATE_LIMIT_PER_SECOND": "0"})


@pytest.fixture(scope="module")
def tenant(system: System) -> Tenant:
    return Tenant(system)


@pytest.fixture(scope="module")
def ids(tenant: Tenant) -> dict[str, str]:
    org = tenant.org
    contact = org.post("/contacts", json={"phone": f"+2126{next(serial):08d}"}).json()["id"]
    audience = tenant.audience(1)
    program = tenant.program(audience)["id"]
    execution = tenant.launch(program)
    return {"contact": contact, "audience": audience, "program": program, "execution": execution}


def phone() -> str:
    return f"+2126{next(serial):08d}"


def refused(answer: httpx.Response, status: int = 400, error: str | None = "ValidationError",
            mentions: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error", "message"} and isinstance(body["message"], str) and body["message"], body
    if error:
        assert body["error"] == error, body
    if mentions:
        assert mentions in body["message"], body
    return body


def body_routes(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("POST", "/contacts"), ("POST", "/contacts/bulk"), ("PATCH", f"/contacts/{ids['contact']}"),
        ("POST", "/audiences"), ("POST", f"/audiences/{ids['audience']}/contacts"),
        ("DELETE", f"/audiences/{ids['audience']}/contacts"), ("POST", "/custom-attributes"),
        ("POST", "/flows"), ("POST", "/programs"), ("PATCH", f"/programs/{ids['program']}"),
        ("PATCH", f"/program-executions/{ids['execution']}/resume"),
    ]


MALFORMED = [b'{"name": ', b"[", b"nul", b'{"name": "x"}}', b"\xff\xfe\x00", b'{"name": "x",}', b"{'name': 'x'}"]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_json_is_a_400_on_every_route_with_a_body(tenant, ids, raw):
    for method, path in body_routes(ids):
        answer = tenant.org.http.request(method, path, content=raw, headers={"content-type": "application/json"})
        refused(answer)


@pytest.mark.parametrize("path,payload,field", [
    ("/audiences", {"name": 123}, "name"),
    ("/audiences", {"name": None}, "name"),
    ("/audiences", ["name"], None),
    ("/audiences", "name", None),
    ("/contacts", {"phone": ["+212612345678"]}, "phone"),
    ("/contacts", {"phone": "+212612345678", "attributes": ["x"]}, "attributes"),
    ("/contacts/bulk", {"contacts": {"phone": "+212612345678"}}, "contacts"),
    ("/custom-attributes", {"name": "colour", "type": "colour"}, "type"),
    ("/custom-attributes", {"name": {"en": "x"}, "type": "text"}, "name"),
    ("/flows", {"name": "f", "startNodeId": "a", "nodes": {"a": {}}}, "nodes"),
    ("/flows", {"name": "f", "startNodeId": "a", "nodes": [{"id": "a", "type": "hangup", "timeoutSeconds": "5s"}]},
     "timeoutSeconds"),
    ("/programs", {"name": "p", "didPool": "x"}, None),
    ("/programs", {"name": True}, None),
])
def test_wrong_types_are_a_400_naming_the_field(tenant, path, payload, field):
    body = refused(tenant.org.post(path, json=payload))
    if field:
        assert field in body["message"].split(":")[0], body


def program_body(tenant: Tenant, audience: str, **changes: Any) -> dict[str, Any]:
    body = {"name": "Bad", "audienceId": audience, "flowId": tenant.flow_id,
            "startAt": iso(tenant.system.now() + timedelta(hours=1)), "didPool": [d.id for d in tenant.dids],
            "retryStrategy": {"type": "none"}}
    body.update(changes)
    return body


def test_huge_arrays_are_a_400(tenant, ids):
    org = tenant.org
    refused(org.post("/contacts/bulk", json={"contacts": [{"phone": phone()} for _ in range(10_001)]}),
            mentions="contacts")
    refused(org.post("/contacts/bulk", json={"contacts": []}), mentions="contacts")
    members = [str(uuid.uuid4()) for _ in range(10_001)]
    refused(org.post(f"/audiences/{ids['audience']}/contacts", json={"contactIds": members}), mentions="contactIds")
    nodes = [{"id": f"n{i}", "type": "say", "text": "hi", "next": f"n{i + 1}"} for i in range(600)]
    nodes.append({"id": "n600", "type": "hangup"})
    refused(org.post("/flows", json={"name": "long", "startNodeId": "n0", "nodes": nodes}), mentions="nodes")
    later = tenant.system.now() + timedelta(days=1)
    dates = [iso(later + timedelta(hours=i)) for i in range(21)]
    refused(org.post("/programs", json=program_body(tenant, ids["audience"], retryStrategy={
        "type": "scheduled", "retryDates": dates})), mentions="retryStrategy.retryDates")
    pool = [str(uuid.uuid4()) for _ in range(5_000)]
    answer = org.post("/programs", json=program_body(tenant, ids["audience"], didPool=pool))
    assert answer.status_code in (400, 404), answer.text
    refused(answer, answer.status_code, error=None, mentions="didPool")
    assert org.get("/flows").json() != [] and len(org.get("/programs").json()) == 1, "nothing was written"


UNICODE_NAMES = ["Zoë 🚀 Ünïcödé", "مرحبا بالعالم", "a\u200bb\u200dc", "e\u0301\u0301\u0301", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u202eevil",
                 "中文名字", "tab\there"]


@pytest.mark.parametrize("name", UNICODE_NAMES, ids=range(len(UNICODE_NAMES)))
def test_unicode_text_round_trips(tenant, name):
    made = tenant.org.post("/audiences", json={"name": name, "description": name * 3})
    assert made.status_code == 201, made.text
    got = tenant.org.get(f"/audiences/{made.json()['id']}").json()
    assert (got["name"], got["description"]) == (name.strip(), name * 3)
    contact = tenant.org.post("/contacts", json={"phone": phone(), "name": name})
    assert contact.status_code == 201, contact.text
    assert contact.json()["name"] == name.strip()


@pytest.mark.parametrize("raw", [
    '{"name": "nul\\u0000byte"}',
    '{"name": "lone \\ud800 surrogate"}',
    '{"name": "x", "description": "\\udfff"}',
], ids=["nul", "high-surrogate", "low-surrogate"])
def test_text_that_cannot_be_stored_is_a_400(tenant, raw):
    before = len(tenant.org.get("/audiences").json())
    refused(tenant.org.http.post("/audiences", content=raw.encode(), headers={"content-type": "application/json"}))
    assert len(tenant.org.get("/audiences").json()) == before


def test_unicode_in_numbers_and_ids(tenant):
    org = tenant.org
    assert org.post("/contacts", json={"phone": "+٢١٢٦١٢٣٤٥٦٧٨"}).status_code in (201, 400, 409)
    refused(org.get("/contacts/ß-not-a-uuid"), 404, error="ContactNotFoundError")
    refused(org.get("/programs/%F0%9F%9A%80"), 404, error="ProgramNotFoundError")
    refused(org.get("/contacts", params={"cursor": "🚀"}))


@pytest.mark.parametrize("changes,field", [
    ({"maxConcurrentCalls": -1}, "maxConcurrentCalls"),
    ({"maxConcurrentCalls": 0}, "maxConcurrentCalls"),
    ({"maxConcurrentCalls": 2**31}, "maxConcurrentCalls"),
    ({"maxConcurrentCalls": 2**64}, "maxConcurrentCalls"),
    ({"maxConcurrentCalls": 1.5}, "maxConcurrentCalls"),
    ({"retryStrategy": {"type": "fixed_delay", "delayMinutes": -5, "maxRetries": 1}}, "retryStrategy"),
    ({"retryStrategy": {"type": "fixed_delay", "delayMinutes": 5, "maxRetries": 2**40}}, "retryStrategy"),
    ({"retryStrategy": {"type": "fixed_delay", "delayMinutes": 10**30, "maxRetries": 1}}, "retryStrategy"),
    ({"pauseWindows": {"monday": [{"startAt": {"hour": -1, "minute": 0}, "endAt": {"hour": 2, "minute": 0}}]}},
     "pauseWindows"),
    ({"pauseWindows": {"monday": [{"startAt": {"hour": 1, "minute": 2**33}, "endAt": {"hour": 2, "minute": 0}}]}},
     "pauseWindows"),
    ({"autoPauseRules": [{"nodeId": "welcome", "threshold": -3}]}, "autoPauseRules"),
    ({"autoPauseRules": [{"nodeId": "welcome", "threshold": 2**31}]}, "autoPauseRules"),
])
def test_negative_and_overflowing_numbers_are_a_400(tenant, ids, changes, field):
    body = refused(tenant.org.post("/programs", json=program_body(tenant, ids["audience"], **changes)))
    assert body["message"].startswith(field), body


@pytest.mark.parametrize("path", ["/contacts", "/audiences", "/programs", "/flows", "/custom-attributes",
                                  "/dids/available", "/program-executions"])
@pytest.mark.parametrize("limit", ["-1", "0", "1001", str(2**64), "1e3", "ten"])
def test_out_of_range_list_limits_are_a_400(tenant, path, limit):
    refused(tenant.org.get(path, params={"limit": limit}), mentions="limit")


def test_overflowing_numbers_elsewhere(tenant, ids):
    org = tenant.org
    refused(org.post("/flows", json={"name": "f", "startNodeId": "g", "nodes": [
        {"id": "g", "type": "gather", "prompt": "?", "options": {"1": "h"}, "timeoutSeconds": 2**31, "noInput": "h"},
        {"id": "h", "type": "hangup"}]}), mentions="nodes")
    refused(org.patch(f"/program-executions/{ids['execution']}/resume",
                      json={"autoPauseRules": [{"nodeId": "welcome", "threshold": 2**63}]}))
    made = org.post("/custom-attributes", json={"name": f"amount {next(serial)}", "type": "number"})
    slug = made.json()["slug"]
    for raw in ('{"phone": "%s", "attributes": {"%s": 1e999}}', '{"phone": "%s", "attributes": {"%s": -1e999}}',
                '{"phone": "%s", "attributes": {"%s": NaN}}', '{"phone": "%s", "attributes": {"%s": 18014398509481985}}'):
        answer = org.http.post("/contacts", content=(raw % (phone(), slug)).encode(),
                               headers={"content-type": "application/json"})
        refused(answer)


FAR = ["0001-01-01T00:00:00Z", "1000-06-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "10000-01-01T00:00:00Z",
       "-0001-01-01T00:00:00Z", "+275760-09-13T00:00:00Z", "2025-13-40T99:99:99Z", "99999999999"]


@pytest.mark.parametrize("value", FAR)
def test_far_past_and_far_future_dates_are_a_400(tenant, ids, value):
    org = tenant.org
    soon = iso(tenant.system.now() + timedelta(hours=1))
    refused(org.post("/programs", json=program_body(tenant, ids["audience"], startAt=value)), mentions="startAt")
    refused(org.post("/programs", json=program_body(tenant, ids["audience"], startAt=soon, stopAt=value)),
            mentions="stopAt")
    refused(org.post("/programs", json=program_body(tenant, ids["audience"], retryStrategy={
        "type": "scheduled", "retryDates": [value]})), mentions="retryStrategy")
    refused(org.post("/programs", json=program_body(tenant, ids["audience"], pauseWindows={
        "advanced": [{"startAt": soon, "endAt": value}]})), mentions="pauseWindows")
    made = org.post("/custom-attributes", json={"name": f"due {next(serial)}", "type": "date"})
    refused(org.post("/contacts", json={"phone": phone(), "attributes": {made.json()["slug"]: value}}),
            mentions="attributes")
    assert len(org.get("/programs").json()) == 1, "nothing was written"


def test_oversized_body_is_a_413_with_or_without_content_length(system, tenant):
    org = tenant.org
    before = len(org.get("/audiences").json())
    big = b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    refused(org.http.post("/audiences", content=big, headers={"content-type": "application/json"}), 413,
            error="PayloadTooLargeError")

    def chunks(data: bytes, size: int = 64 * 1024):
        for start in range(0, len(data), size):
            yield data[start:start + size]

    # A chunked body announces no length: the limit counts the bytes as they arrive.
    chunked = org.http.post("/audiences", content=chunks(big), headers={"content-type": "application/json"})
    assert "content-length" not in chunked.request.headers
    refused(chunked, 413, error="PayloadTooLargeError")
    small = org.http.post("/audiences", content=chunks(b'{"name": "chunked"}', 4),
                          headers={"content-type": "application/json"})
    assert small.status_code == 201, small.text
    assert len(org.get("/audiences").json()) == before + 1
