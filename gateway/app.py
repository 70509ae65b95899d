"""The FastAPI application: routers under /api, the one error map, the body-size limit."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import docs_page, openapi, web
from gateway.clients import Clients
from gateway.idempotency import Idempotency
from gateway.ratelimit import RateLimiter
from gateway.routes import routers
from gateway.routes.dnc import IMPORT_PATH as DNC_IMPORT_PATH
from gateway.routes.imports import IMPORT_PATH as CONTACTS_IMPORT_PATH
from kernel import errors, logs, tracing
from kernel import settings as settings_module

log = logs.get("gateway")

HTTP_LATENCY = Histogram("outbound_http_request_seconds", "Gateway request time per route and status",
                         ["method", "route", "status"])

_HTTP_NAMES = {400: "BadRequestException", 401: "UnauthorizedError", 404: "NotFoundError",
               405: "MethodNotAllowedError", 413: "PayloadTooLargeError", 415: "UnsupportedMediaTypeError",
               429: "TooManyRequestsError"}


# FastAPI's answer to a body it could not read as JSON at all.
_UNPARSABLE_BODY = "There was an error parsing the body"


def error_body(name: str, message: str) -> dict[str, str]:
    return {"error": name, "message": message}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0] if exc.errors() else {}
    field = _field_path(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        text = "unknown field"
    elif kind == "json_invalid":
        text = "malformed JSON body"
        field = ""
    else:
        text = first.get("msg", "invalid value").removeprefix("Value error, ")
    return (f"{field}: {text}" if field else text), (field or None)


def create_app(settings: settings_module.Settings | None = None) -> FastAPI:
    settings = settings or settings_module.get()
    tracing.setup("gateway", settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.clients = Clients(settings)
        app.state.limiter = RateLimiter(settings.redis_url, settings.rate_limit_per_second,
                                        settings.rate_limit_burst)
        yield
        await app.state.clients.close()
        await app.state.limiter.close()

    app = FastAPI(
        title="Outbound API",
        version="1.0",
        description="Outbound voice-calling campaigns: programs, executions, contacts, flows.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # gateway/docs_page.py serves /api/docs from local files
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.exception_handler(errors.DomainError)
    async def domain_error(_: Request, exc: errors.DomainError) -> JSONResponse:
        status = errors.http_status(exc)
        message = exc.message
        if status >= 500:
            log.warning("upstream error", extra={"error": exc.name, "detail": exc.message})
            if exc.name == "InternalError":
                message = "Internal error"  # the detail may quote SQL and data: logged, never answered
        return JSONResponse(error_body(exc.name, message), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, _field = _validation_message(exc)
        return JSONResponse(error_body("ValidationError", message), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:  # e.g. bytes that are not UTF-8
            return JSONResponse(error_body("ValidationError", "malformed JSON body"), status_code=400)
        name = _HTTP_NAMES.get(exc.status_code, "HttpError")
        return JSONResponse(error_body(name, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("InternalError", "Internal error"), status_code=500)

    # Added first, so innermost: the 413 raised while a route reads its body reaches the app's
    # handlers as it is (the outer middlewares would wrap it in their task groups).
    # A streamed import (the do-not-call CSV) reads its body piece by piece, never whole: not limited.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       streamed=frozenset({DNC_IMPORT_PATH, CONTACTS_IMPORT_PATH}))
    # Idempotency-Key on POSTs, just outside the limit; streamed bodies: the same paths as the limit's.
    app.add_middleware(Idempotency, redis_url=settings.redis_url, max_bytes=settings.max_body_bytes,
                       streamed=app.user_middleware[0].kwargs["streamed"])

    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        key = request.headers.get("x-api-key")
        if key and request.url.path.startswith("/api/"):
            wait = await request.app.state.limiter.check(key)
            if wait is not None:
                return JSONResponse(error_body("TooManyRequestsError", "Rate limit exceeded for this API key"),
                                    status_code=429, headers={"Retry-After": str(wait)})
        return await call_next(request)

    @app.middleware("http")
    async def measure(request: Request, call_next):
        started = time.perf_counter()
        # Continue the caller's trace (traceparent header) into every service call.
        with tracing.span_from(request.headers, f"{request.method} {request.url.path}"):
            response = await call_next(request)
        route = request.scope.get("route")
        HTTP_LATENCY.labels(request.method, getattr(route, "path", "unmatched"), str(response.status_code)).observe(
            time.perf_counter() - started)
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers():
        app.include_router(router, prefix="/api")
    web.mount(app)  # the dashboard at / and /app/..., its files at /static
    openapi.install(app), docs_page.install(app)  # the corrected /api/openapi.json, offline /api/docs
    return app


class BodyLimit:
    """413 for a body over `max_bytes`: at once when Content-Length says so, otherwise as soon
    as the bytes actually received pass the limit (a chunked body announces no length)."""

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: frozenset[str] = frozenset()):
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed  # paths whose route reads the body as a stream

    def _too_large(self) -> JSONResponse:
        return JSONResponse(error_body("PayloadTooLargeError", f"Body larger than {self.max_bytes} bytes"),
                            status_code=413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.streamed:
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's body read: the app's handler answers the 413.
                    raise StarletteHTTPException(413, f"Body larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)
