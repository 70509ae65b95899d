"""The gateway's own behaviour: clock, OpenAPI, auth, error shape, body and rate limits."""

import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def gateway(system_factory) -> System:
    return system_factory(services=["account", "audience"], clock_speed=30,
                          extra_env={"RATE_LIMIT_PER_SECOND": "2", "RATE_LIMIT_BURST": "5",
                                     "MAX_BODY_BYTES": "4096"})


def test_time_needs_no_key_and_runs_on_the_shared_clock(gateway):
    answer = gateway.http.get("/time")
    assert answer.status_code == 200
    body = answer.json()
    assert body["speed"] == 30
    assert body["now"].endswith("Z") and len(body["now"]) == len("2025-12-20T09:00:00.000Z")


def test_openapi_and_docs_are_served(gateway):
    spec = gateway.http.get("/openapi.json").json()
    assert "/api/time" in spec["paths"] and "/api/contacts" in spec["paths"]
    assert gateway.http.get("/docs").status_code == 200


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "ob_nope_nope"}, {"x-api-key": "garbage"}])
def test_missing_or_invalid_key_is_401(gateway, headers):
    answer = gateway.http.get("/contacts", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "UnauthorizedError" and answer.json()["message"]


def test_malformed_json_is_a_validation_error(gateway):
    org = gateway.create_org()
    answer = org.http.post("/custom-attributes", content=b'{"name": "due", "type":',
                           headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"] == "ValidationError"
    assert org.get("/custom-attributes").json() == []


def test_oversized_body_is_413_and_writes_nothing(gateway):
    org = gateway.create_org()
    answer = org.post("/custom-attributes", json={"name": "x" * 10_000, "type": "text"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "PayloadTooLargeError"
    assert org.get("/custom-attributes").json() == []


def test_rate_limit_per_key_answers_429_with_retry_after(gateway):
    noisy, quiet = gateway.create_org(), gateway.create_org()
    answers = [noisy.get("/custom-attributes") for _ in range(15)]
    assert [a.status_code for a in answers[:5]] == [200] * 5, "the burst is served"
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "15 requests at once exceed a burst of 5 refilled at 2/s"
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["error"] == "TooManyRequestsError"
    assert quiet.get("/custom-attributes").status_code == 200, "another key has its own bucket"
