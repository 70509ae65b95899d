"""/api/openapi.json as the API really behaves: FastAPI's inferred document, corrected.

Invariants of the served document:
- no 422 HTTPValidationError: a refused request is a 400 `ErrorBody` named ValidationError;
- every error response a route may give is declared with the error names it carries (an enum on
  `error` per status, one example per name), from gateway/openapi_tables.py;
- every route that needs a key carries the `ApiKey` security scheme (header x-api-key), so
  Swagger UI's "Try it out" authenticates;
- response fields with a closed set of values carry it as an enum, and no schema name leaks a
  module path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from gateway.auth import organization_id
from gateway.models import ErrorBody
from gateway.openapi_tables import ENUMS, EXAMPLES, MESSAGES, ROUTE_ERRORS, STATUS_OF

SCHEME = "ApiKey"
ERROR_SCHEMA = "ErrorBody"
# FastAPI's own validation-error schemas, never answered by this API.
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute]]:
    """("METHOD /api/path", route) for every documented route under /api."""
    # Routers are included lazily (with their prefix): their contexts carry the full path.
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path_format or ""
        if isinstance(route, APIRoute) and getattr(context, "include_in_schema", True) \
                and path.startswith("/api/"):
            for method in sorted(getattr(context, "methods", None) or route.methods or ()):
                yield f"{method} {path}", route


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes without a line in ROUTE_ERRORS (they are documented with the generic errors only)."""
    return [key for key, _ in api_routes(app) if key not in ROUTE_ERRORS]


def needs_key(route: APIRoute) -> bool:
    return _depends_on(route.dependant, organization_id)


def _depends_on(dependant: Dependant, call: Any) -> bool:
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def error_names(route: APIRoute, key: str) -> list[str]:
    """Every error name the route may answer, generic ones first."""
    names: list[str] = []
    has_body = route.body_field is not None or _declares_body(route)
    if route.dependant.query_params or route.dependant.path_params or has_body:
        names.append("ValidationError")
    if has_body:
        names.append("PayloadTooLargeError")
    if needs_key(route):
        names += ["UnauthorizedError", "TooManyRequestsError", "ServiceUnavailableError"]
        if "POST" in (route.methods or ()):  # gateway/idempotency.py guards every POST
            names += ["IdempotencyKeyInUseError", "IdempotencyKeyReusedError"]
    for name in ROUTE_ERRORS.get(key, ()):
        if name not in names:
            names.append(name)
    return names


def _declares_body(route: APIRoute) -> bool:
    # Streamed uploads (audio, CSV) read the request themselves and declare their body by hand.
    return "requestBody" in (route.openapi_extra or {})


def _error_response(names: list[str]) -> dict[str, Any]:
    return {
        "description": ", ".join(names),
        "content": {"application/json": {
            "schema": {"allOf": [{"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}],
                       "properties": {"error": {"enum": names}}},
            "examples": {name: {"value": {"error": name, "message": MESSAGES.get(name, _humanized(name))}}
                         for name in names},
        }},
    }


def _humanized(name: str) -> str:
    # ProgramNotFoundError → "Program not found"
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name.removesuffix("Error")).split()
    return " ".join(words).capitalize() if words else name


def build(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, description=app.description,
                           routes=app.routes, tags=app.openapi_tags, servers=app.servers)
    paths = document.setdefault("paths", {})
    all_names: set[str] = set()
    for key, route in api_routes(app):
        method, path = key.split(" ", 1)
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            continue
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        by_status: dict[int, list[str]] = {}
        for name in error_names(route, key):
            by_status.setdefault(STATUS_OF.get(name, 400), []).append(name)
            all_names.add(name)
        for status, names in sorted(by_status.items()):
            responses[str(status)] = _error_response(names)
        if needs_key(route):
            operation["security"] = [{SCHEME: []}]
            if method == "POST":
                _add_idempotency_header(operation)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    error_schema = ErrorBody.model_json_schema()
    error_schema["properties"]["error"]["enum"] = sorted(all_names)
    schemas[ERROR_SCHEMA] = error_schema
    components["securitySchemes"] = {SCHEME: {
        "type": "apiKey", "in": "header", "name": "x-api-key",
        "description": "The organization's API key (`outbound admin org create` prints the first one)"}}
    _apply_enums(schemas)
    for name, examples in EXAMPLES.items():
        if name in schemas:
            schemas[name]["examples"] = examples
    return _clean_names(document)


def _add_idempotency_header(operation: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
        return
    parameters.append({
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "Repeat the request safely: the same key and body within 24 hours answers the first "
                       "response again without doing the work twice."})


def _apply_enums(schemas: dict[str, Any]) -> None:
    for target, values in ENUMS.items():
        schema_name, prop = target.split(".", 1)
        field = schemas.get(schema_name, {}).get("properties", {}).get(prop)
        if field is None:
            continue
        # A nullable field is anyOf [string, null]: the values go on the string branch.
        branches = [b for b in field.get("anyOf", [field]) if b.get("type") == "string"]
        for branch in branches:
            branch["enum"] = list(values)


def _clean_names(document: dict[str, Any]) -> dict[str, Any]:
    """`gateway__routes__x__Model` (two models of one name in two modules) → `Model`, refs included."""
    schemas = document.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in sorted(n for n in schemas if "__" in n):
        parts = name.split("__")
        short = parts[-1]
        if short in schemas or short in renames.values():  # two models of one name: the module tells them apart
            short = parts[-2].title().replace("_", "") + short
        renames[name] = short
    if not renames:
        return document
    text = json.dumps(document)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    cleaned = json.loads(text)
    cleaned_schemas = cleaned["components"]["schemas"]
    for old, new in renames.items():
        cleaned_schemas[new] = cleaned_schemas.pop(old)
    return cleaned


def install(app: FastAPI) -> None:
    """Serve the corrected document at the app's openapi_url (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
