"""/api/openapi.json tells the truth: every route of the app with its methods, its error responses
(by status, with their error names), the x-api-key scheme where a key is needed, no 422, enums for
statuses and outcomes, clean schema names, examples. /api/docs names no other host."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.openapi import SCHEME, api_routes, error_names, needs_key, undeclared_routes
from gateway.openapi_tables import STATUS_OF
from tests.support.system import System

pytestmark = pytest.mark.e2e

SPEC_EXECUTION_STATUSES = ["scheduled", "running", "paused", "paused_no_credits", "paused_threshold", "completed",
                           "stopped", "cancelled"]
# Response fields whose values form a closed set: each must declare it.
CLOSED_FIELDS = {"status", "state", "outcome", "lastOutcome", "result", "skippedReason", "blockedBy"}


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account", "program"], clock_speed=60)


@pytest.fixture(scope="module")
def document(system: System) -> dict[str, Any]:
    answer = httpx.get(system.base_url + "/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()


@pytest.fixture(scope="module")
def app():
    return create_app()


def test_every_route_has_a_line_in_the_error_table(app):
    missing = undeclared_routes(app)
    assert missing == [], ("routes without a line in gateway/openapi_tables.py ROUTE_ERRORS "
                           f"(add one per route, with the error names it answers): {missing}")


def test_the_document_lists_exactly_the_routes_and_methods(app, document):
    routes = sorted(key for key, _ in api_routes(app))
    documented = sorted(f"{method.upper()} {path}" for path, operations in document["paths"].items()
                        for method in operations)
    assert documented == routes
    assert len(routes) >= 40


def test_every_route_declares_its_error_responses_with_their_names(app, document):
    problems = []
    for key, route in api_routes(app):
        method, path = key.split(" ", 1)
        responses = document["paths"][path][method.lower()]["responses"]
        for name in error_names(route, key):
            status = str(STATUS_OF.get(name, 400))
            declared = responses.get(status, {}).get("content", {}).get("application/json", {})
            enum = declared.get("schema", {}).get("properties", {}).get("error", {}).get("enum", [])
            if name not in enum or name not in declared.get("examples", {}):
                problems.append(f"{key}: {status} {name}")
    assert problems == []


def test_spec_tables_are_declared(document):
    def names(path: str, method: str, status: str) -> list[str]:
        schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        return schema["properties"]["error"]["enum"]

    launch = "/api/programs/{program_id}/launch"
    assert {"ExecutionAlreadyRunningError", "AudienceEmptyError", "EmptyDidPoolError", "ValidationError"} <= set(
        names(launch, "post", "400"))
    assert names(launch, "post", "404") == ["ProgramNotFoundError"]
    assert names(launch, "post", "409") == ["IdempotencyKeyInUseError", "ProgramStatusConflictError"]
    assert names(launch, "post", "422") == ["IdempotencyKeyReusedError"]
    assert {"DidNotFoundError"} <= set(names("/api/programs", "post", "404"))
    assert {"DidNotActiveError", "DidNotAccessibleError"} <= set(names("/api/programs", "post", "400"))
    assert "InvalidExecutionStateError" in names("/api/program-executions/{execution_id}/pause", "patch", "400")
    assert names("/api/programs", "get", "401") == ["UnauthorizedError"]
    assert names("/api/programs", "get", "429") == ["TooManyRequestsError"]
    assert "PayloadTooLargeError" in names("/api/contacts", "post", "413")


def test_no_fastapi_validation_error_and_no_422(document):
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert "#/components/schemas/ValidationError" not in text
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = operation["responses"].get("422")
            if declared is not None:  # only the idempotency error may answer 422
                enum = declared["content"]["application/json"]["schema"]["properties"]["error"]["enum"]
                assert enum == ["IdempotencyKeyReusedError"], f"422 on {method} {path}"
            bad = operation["responses"]["400"]["content"]["application/json"]["schema"] \
                if "400" in operation["responses"] else None
            if bad is not None:
                assert bad["allOf"] == [{"$ref": "#/components/schemas/ErrorBody"}]
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error", "message"] and "ValidationError" in error["properties"]["error"]["enum"]


def test_api_key_scheme_on_every_route_that_needs_one(app, document):
    assert document["components"]["securitySchemes"][SCHEME] == {
        "type": "apiKey", "in": "header", "name": "x-api-key",
        "description": document["components"]["securitySchemes"][SCHEME]["description"]}
    public = []
    for key, route in api_routes(app):
        method, path = key.split(" ", 1)
        operation = document["paths"][path][method.lower()]
        if needs_key(route):
            assert operation.get("security") == [{SCHEME: []}], key
            assert "401" in operation["responses"], key
        else:
            assert "security" not in operation, key
            public.append(key)
    assert public == ["GET /api/time"]


def _closed_fields_without_enum(schema_name: str, schema: dict[str, Any]) -> list[str]:
    missing = []
    for prop, field in schema.get("properties", {}).items():
        if prop in CLOSED_FIELDS:
            branches = [b for b in field.get("anyOf", [field]) if b.get("type") != "null"]
            if not all("enum" in b or "const" in b or "$ref" in b for b in branches):
                missing.append(f"{schema_name}.{prop}")
    return missing


def test_statuses_and_outcomes_are_enums(document):
    schemas = document["components"]["schemas"]
    missing = [m for name, schema in schemas.items() for m in _closed_fields_without_enum(name, schema)]
    assert missing == []
    assert schemas["ExecutionResponse"]["properties"]["status"]["enum"] == SPEC_EXECUTION_STATUSES
    assert schemas["ProgramResponse"]["properties"]["status"]["enum"] == ["draft", "active", "archived"]
    outcome = schemas["CallResponse"]["properties"]["outcome"]["enum"]
    assert {"answered", "no_answer", "busy", "failed", "voicemail", "invalid_number"} <= set(outcome)


def test_schema_names_are_clean_and_spec_examples_shown(document):
    names = list(document["components"]["schemas"])
    assert [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    examples = document["components"]["schemas"]["CreateProgramRequest"]["examples"]
    assert examples[0]["name"] == "Holiday Campaign 2025" and examples[1]["mode"] == "live"


def test_answers_match_the_declared_errors(system: System, document):
    """What the API answers is what the document declares, for the errors a client meets first."""
    org = system.create_org()

    def declared(path: str, method: str, status: int) -> list[str]:
        response = document["paths"][path][method]["responses"][str(status)]
        return response["content"]["application/json"]["schema"]["properties"]["error"]["enum"]

    anonymous = httpx.get(system.base_url + "/api/programs", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["error"] in declared("/api/programs", "get", 401)
    bad = org.post("/programs", json={"name": 5})
    assert bad.status_code == 400 and bad.json()["error"] in declared("/api/programs", "post", 400)
    unknown = org.get("/programs/550e8400-e29b-41d4-a716-446655440000")
    assert unknown.status_code == 404
    assert unknown.json()["error"] in declared("/api/programs/{program_id}", "get", 404)


def test_docs_page_names_no_other_host(system: System):
    page = httpx.get(system.base_url + "/api/docs", timeout=30)
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert re.findall(r"https?://", page.text) == [], "the docs page must not load anything from another host"
    linked = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = sorted({a or b for a, b in linked})
    assert "/api/docs/assets/swagger-ui-bundle.js" in urls and "/api/openapi.json" in urls
    for url in urls:
        served = httpx.get(system.base_url + url, timeout=30)
        assert served.status_code == 200, url
    css = httpx.get(system.base_url + "/api/docs/assets/swagger-ui.css", timeout=30)
    assert css.headers["content-type"].startswith("text/css")
