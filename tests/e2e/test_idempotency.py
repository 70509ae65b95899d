"""Idempotency-Key through the gateway: a POST repeated with the same key answers the first
answer again without doing the work twice; another request under the same key is refused."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import redis

from gateway.idempotency import request_fingerprint, running_marker, sha, slot_of
from tests.support.campaigns import Tenant
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=60)


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4()}"}


def executions_of(tenant: Tenant, program_id: str) -> list[dict]:
    answer = tenant.org.get(f"/programs/{program_id}/executions")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_same_launch_twice_makes_one_execution_and_answers_the_same_body(tenant: Tenant):
    program = tenant.program(tenant.audience(2))
    headers = key()
    first = tenant.org.post(f"/programs/{program['id']}/launch", headers=headers)
    again = tenant.org.post(f"/programs/{program['id']}/launch", headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert [e["id"] for e in executions_of(tenant, program["id"])] == [first.json()["executionId"]]
    # Without the key the route runs: the program already has its execution.
    unkeyed = tenant.org.post(f"/programs/{program['id']}/launch")
    assert unkeyed.status_code == 400 and "Idempotent-Replayed" not in unkeyed.headers


def test_two_launches_at_once_with_one_key_make_one_execution(tenant: Tenant):
    program = tenant.program(tenant.audience(2))
    headers = key()
    answers: list = [None] * 4
    go = threading.Barrier(len(answers))

    def launch(i: int) -> None:
        go.wait()
        answers[i] = tenant.org.post(f"/programs/{program['id']}/launch", headers=headers)

    threads = [threading.Thread(target=launch, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    created = [a.json() for a in answers if a.status_code == 201]
    assert created and all(body == created[0] for body in created)
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"] == "IdempotencyKeyInUseError"
    assert [e["id"] for e in executions_of(tenant, program["id"])] == [created[0]["executionId"]]


def test_the_same_key_with_another_body_or_path_is_refused(tenant: Tenant):
    headers = key()
    first = tenant.org.post("/audiences", json={"name": "first"}, headers=headers)
    assert first.status_code == 201, first.text
    other_body = tenant.org.post("/audiences", json={"name": "second"}, headers=headers)
    assert other_body.status_code == 422
    assert other_body.json()["error"] == "IdempotencyKeyReusedError"
    other_path = tenant.org.post("/custom-attributes", json={"name": "first"}, headers=headers)
    assert (other_path.status_code, other_path.json()["error"]) == (422, "IdempotencyKeyReusedError")
    same = tenant.org.post("/audiences", json={"name": "first"}, headers=headers)
    assert (same.status_code, same.json()) == (201, first.json())
    names = [a["name"] for a in tenant.org.get("/audiences", params={"limit": 1000}).json()]
    assert names.count("first") == 1 and "second" not in names


def test_keys_belong_to_their_organization(fast: System, tenant: Tenant):
    other = fast.create_org()
    headers = key()
    mine = tenant.org.post("/audiences", json={"name": "shared key"}, headers=headers)
    theirs = other.post("/audiences", json={"name": "shared key"}, headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers


def test_without_a_key_every_post_does_its_work(tenant: Tenant):
    first = tenant.org.post("/audiences", json={"name": "no key"})
    second = tenant.org.post("/audiences", json={"name": "no key"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_a_refused_request_is_answered_again_as_it_was(tenant: Tenant):
    headers = key()
    missing = f"/programs/{uuid.uuid4()}/launch"
    first = tenant.org.post(missing, headers=headers)
    assert first.status_code == 404 and first.json()["error"] == "ProgramNotFoundError"
    again = tenant.org.post(missing, headers=headers)
    assert (again.status_code, again.json()) == (404, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_key_that_is_empty_or_too_long_is_a_validation_error(tenant: Tenant):
    for bad in ("", "k" * 256):
        answer = tenant.org.post("/audiences", json={"name": "bad key"}, headers={"Idempotency-Key": bad})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "ValidationError"
    longest = tenant.org.post("/audiences", json={"name": "longest key"}, headers={"Idempotency-Key": "k" * 255})
    assert longest.status_code == 201
    names = [a["name"] for a in tenant.org.get("/audiences", params={"limit": 1000}).json()]
    assert "bad key" not in names


def test_a_request_without_a_valid_api_key_gets_its_401(fast: System):
    answer = fast.http.post("/audiences", json={"name": "x"}, headers={**key(), "x-api-key": "nope"})
    assert answer.status_code == 401 and answer.json()["error"] == "UnauthorizedError"


def test_a_server_error_is_not_kept_a_retry_does_the_work(fast: System, tenant: Tenant):
    headers = key()
    fast.kill("audience")
    try:
        failed = tenant.org.post("/audiences", json={"name": "after outage"}, headers=headers)
    finally:
        fast.restart("audience")
    assert failed.status_code >= 500, failed.text
    answers = []

    def retry() -> bool:
        # The gateway reconnects to the restarted service in its own time: 5xx until it has.
        answers.append(tenant.org.post("/audiences", json={"name": "after outage"}, headers=headers))
        return answers[-1].status_code < 500

    wait_until(retry, message="a retry after the outage gets through")
    assert not any("Idempotent-Replayed" in a.headers for a in answers)
    retried = answers[-1]
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert tenant.org.get(f"/audiences/{retried.json()['id']}").json()["name"] == "after outage"


def dnc_upload(tenant: Tenant, body: bytes, headers: dict[str, str]):
    def pieces():
        for start in range(0, len(body), 64):
            yield body[start:start + 64]
    return tenant.org.http.post("/dnc/import", content=pieces(), headers={"Content-Type": "text/csv", **headers})


def test_a_streamed_import_is_hashed_as_it_streams(tenant: Tenant):
    headers = key()
    body = "".join(f"+33612{n:06d}\n" for n in range(40)).encode()
    first = dnc_upload(tenant, body, headers)
    assert first.status_code == 201 and first.json()["added"] == 40, first.text
    again = dnc_upload(tenant, body, headers)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    other = dnc_upload(tenant, body + b"+33699999999\n", headers)
    assert (other.status_code, other.json()["error"]) == (422, "IdempotencyKeyReusedError")
    assert tenant.org.get("/dnc", params={"phone": "+33699999999"}).status_code == 404


def test_a_key_held_by_a_gateway_that_died_is_free_once_its_lease_lapses(fast: System, tenant: Tenant):
    store = redis.Redis.from_url(fast.redis_url)
    body = json.dumps({"name": "after a crash"}).encode()
    request = request_fingerprint("POST", "/api/audiences", "")
    json_body = {"Content-Type": "application/json"}
    try:
        # The marker a gateway left as it died, for another request: the key is taken.
        other = key()
        store.set(slot_of(tenant.org.id, other["Idempotency-Key"]), running_marker(request, sha(b"{}")), px=60_000)
        refused = tenant.org.http.post("/audiences", content=body, headers={**other, **json_body})
        assert (refused.status_code, refused.json()["error"]) == (422, "IdempotencyKeyReusedError")
        # The same request's marker with a short lease: the repeat waits, then does the work.
        mine = key()
        slot = slot_of(tenant.org.id, mine["Idempotency-Key"])
        store.set(slot, running_marker(request, sha(body)), px=1500)
        answer = tenant.org.http.post("/audiences", content=body, headers={**mine, **json_body})
        assert answer.status_code == 201, answer.text
        assert "Idempotent-Replayed" not in answer.headers
        kept = json.loads(store.get(slot))
        assert (kept["state"], kept["status"], kept["body"]) == ("done", 201, sha(body))
        assert 0 < store.ttl(slot) <= 24 * 3600
    finally:
        store.close()


def test_without_its_store_a_keyed_request_is_refused_and_an_unkeyed_one_runs(system_factory):
    lonely = system_factory(services=["account", "audience"], own_brokers=True)
    org = lonely.create_org()
    with lonely.suspended("redis"):
        keyed = org.post("/audiences", json={"name": "keyed"}, headers=key())
        unkeyed = org.post("/audiences", json={"name": "unkeyed"})
    assert (keyed.status_code, keyed.json()["error"]) == (503, "ServiceUnavailableError")
    assert unkeyed.status_code == 201, unkeyed.text
    names = [a["name"] for a in org.get("/audiences", params={"limit": 1000}).json()]
    assert names == ["unkeyed"]
