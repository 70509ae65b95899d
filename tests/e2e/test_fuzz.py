"""Property-based fuzzing of every route of /api/openapi.json (schemathesis): requests that fit
the schema and requests that do not, with a valid API key. No answer may be a 5xx, every error
answer has the documented {"error", "message"} shape, and every answer is one the document
declares: its status code, its content type and its body's schema (error names included)."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.system import DEFAULT_FLOW, System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Examples per operation and mode; FUZZ_EXAMPLES=500 for a long local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# What every answer must satisfy besides check(): the document's own promises.
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The same examples on every run (a suite must not fail by chance); FUZZ_RANDOM=1 explores.
DERANDOMIZE = not os.environ.get("FUZZ_RANDOM")


@pytest.fixture(scope="module")
def fuzzed(system_factory) -> System:
    # No rate limit: the fuzzer sends as fast as it can, and 429s would hide the routes.
    return system_factory(clock_speed=60, extra_env={"RATE_LIMIT_PER_SECOND": "0"})


def operations(system: System):
    spec = requests.get(system.base_url + "/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec)
    found = [result.ok() for result in schema.get_all_operations()]
    documented = sum(len(methods) for methods in spec["paths"].values())
    assert len(found) == documented >= 40, "every route of the OpenAPI document is fuzzed"
    return found


def check(response: requests.Response, case) -> None:
    where = f"{case.method} {case.formatted_path} {case.query!r} {case.body!r}"
    assert response.status_code < 500, f"{response.status_code} for {where}: {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error", "message"} and body["error"] and isinstance(body["message"], str), \
            f"error shape for {where}: {body}"


def test_no_route_answers_5xx(fuzzed: System):
    org = fuzzed.create_org(credits=100)
    # Something to find: a flow, an audience and a contact, so that not every id is unknown.
    assert org.post("/flows", json=DEFAULT_FLOW).status_code == 201
    assert org.post("/audiences", json={"name": "fuzz"}).status_code == 201
    assert org.post("/contacts", json={"phone": "+212612345678"}).status_code == 201
    session = requests.Session()
    session.headers["x-api-key"] = org.api_key
    tried = 0
    failures: list[str] = []
    for operation in operations(fuzzed):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                response = case.call(base_url=fuzzed.base_url, session=session, timeout=30)
                check(response, case)
                try:
                    case.validate_response(response, checks=CONFORMANCE)
                except FailureGroup as exc:  # one line per failure for the report
                    raise AssertionError(f"{response.status_code} for {case.method} {case.formatted_path}: "
                                         f"{' '.join(str(exc).split())[:400]}") from None

            try:
                run()
            except Unsatisfiable:
                # An operation with nothing that can be made invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
                continue
            except AssertionError as exc:  # every operation is fuzzed before the verdict
                failures.append(f"{operation.label} ({mode}): {str(exc).splitlines()[0]}")
            tried += 1
    assert failures == [], "\n".join(failures)
    assert tried >= 50
