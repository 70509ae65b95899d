"""Idempotency-Key on every POST under /api, for every route at once (an ASGI middleware).

Invariant: within RETENTION_SECONDS, one (organization, key) runs its route at most once at a
time, and once it has answered, every request with the same key and the same fingerprint (method,
path, query, SHA-256 of the body) gets that first answer again, marked `Idempotent-Replayed:
true`, without reaching the route. The same key with another fingerprint is refused (422
IdempotencyKeyReusedError); a request arriving while the first still runs waits for it, up to
WAIT_SECONDS, then gets 409 IdempotencyKeyInUseError.

The records live in Redis, shared by every gateway replica: a "running" marker set with SET NX and
a lease (renewed while the route runs, so a crashed gateway frees the key when the lease lapses),
replaced by the stored answer kept for 24 hours. A 5xx answer is not stored: the key is released
and a retry does the work. A 4xx answer is stored (a retry of a refused request is refused again).

Bodies of the streamed paths (CSV imports) are never held: they are hashed as they pass through
to the route, and a repeat is hashed as it is drained, then compared. An answer given before the
route read its body to the end is not stored (the body's hash is not known).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import organization_id
from kernel import errors, logs

log = logs.get("gateway.idempotency")

HEADER = b"idempotency-key"
REPLAYED = b"idempotent-replayed"
MAX_KEY_LENGTH = 255
RETENTION_SECONDS = 24 * 3600
LEASE_MS = 30_000  # how long a crashed gateway's "running" marker blocks its key
WAIT_SECONDS = 10.0  # how long a repeat waits for the first request before 409
POLL_SECONDS = 0.05
MAX_STORED_BODY = 1024 * 1024  # larger answers are not stored (no POST answers that much)

IN_USE = "IdempotencyKeyInUseError"
REUSED = "IdempotencyKeyReusedError"

# Compare-and-set on the slot: only the request that holds the marker renews, stores or frees it.
# KEYS[1] slot; ARGV expected value, new value ("" deletes), expiry in ms.
_SWAP = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"error": name, "message": message}, status_code=status)


def slot_of(organization_id: str, key: str) -> str:
    """The Redis key of an Idempotency-Key (hashed: a key is any text up to 255 characters)."""
    return f"idempotency:{organization_id}:{sha(key.encode())}"


def request_fingerprint(method: str, path: str, query: str) -> str:
    """The fingerprint's part before the body."""
    return sha(f"{method} {path}?{query}".encode())


def running_marker(request: str, body: str | None) -> str:
    """The value that holds a key while its first request runs (unique to that request)."""
    return json.dumps({"state": "running", "request": request, "body": body, "token": uuid.uuid4().hex})


@dataclass(frozen=True)
class Stored:
    """The first answer, as replayed."""

    status: int
    content_type: str
    body: bytes

    async def replay(self, send: Send) -> None:
        headers = [(b"content-length", str(len(self.body)).encode()), (REPLAYED, b"true")]
        if self.content_type:
            headers.append((b"content-type", self.content_type.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


class _Refused(Exception):
    """The request gets this answer instead of running."""

    def __init__(self, response: JSONResponse):
        self.response = response


class Idempotency:
    def __init__(self, app: ASGIApp, redis_url: str, max_bytes: int, streamed: frozenset[str] = frozenset()):
        self.app = app
        self.max_bytes = max_bytes  # a larger body is left to the body limit (no key is taken)
        self.streamed = streamed  # paths whose route reads the body as a stream
        self.redis = aioredis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._swap = self.redis.register_script(_SWAP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = dict(scope.get("headers") or ()).get(HEADER) if scope["type"] == "http" else None
        if raw is None or scope["method"] != "POST" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        key = raw.decode("latin-1")
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            await _error(400, "ValidationError", f"Idempotency-Key: must be 1 to {MAX_KEY_LENGTH} characters")(
                scope, receive, send)
            return
        org = await self._organization(scope)
        if org is None:  # no valid API key: the route answers its 401
            await self.app(scope, receive, send)
            return
        request = request_fingerprint(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"))
        slot = slot_of(org, key)
        if scope["path"] in self.streamed:
            run = _Run(slot, request, None, receive)
        else:
            body, whole = await _read_body(receive, self.max_bytes)
            if not whole:
                await self.app(scope, _replaying(body, receive, more=True), send)
                return
            run = _Run(slot, request, sha(body), _replaying(body, receive))
        try:
            stored = await self._claim(run)
        except _Refused as refused:
            await refused.response(scope, receive, send)
            return
        except RedisError as exc:
            # The guarantee cannot be given: refuse rather than risk doing the work twice.
            log.warning("idempotency store unavailable", extra={"error": repr(exc)})
            await _error(503, "ServiceUnavailableError", "Idempotency store unavailable, try again")(
                scope, receive, send)
            return
        if stored is not None:
            await stored.replay(send)
            return
        await self._run(scope, run, send)

    async def _organization(self, scope: Scope) -> str | None:
        try:
            return await organization_id(Request(scope))
        except errors.DomainError:
            return None

    async def _claim(self, run: _Run) -> Stored | None:
        """None once this request holds the key (it runs the route); the first answer when it
        is a repeat; raises _Refused otherwise."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            if run.receive is not None and await self.redis.set(run.slot, run.marker, nx=True, px=LEASE_MS):
                return None
            current = await self.redis.get(run.slot)
            if current is None:
                if run.receive is None:
                    # A streamed body already drained to compare, and the first request's key was freed
                    # meanwhile (it failed): nothing left to run the route with.
                    raise _Refused(_error(409, IN_USE, "The first request with this Idempotency-Key failed; "
                                                       "retry the request"))
                continue
            record = json.loads(current)
            if record["request"] != run.request:
                raise _Refused(_error(422, REUSED, "This Idempotency-Key was used with another request"))
            if run.body is None:
                run.body = await _drain(run.receive)
                run.receive = None
            if record.get("body") not in (None, run.body):
                raise _Refused(_error(422, REUSED, "This Idempotency-Key was used with another body"))
            if record["state"] == "done":
                return Stored(record["status"], record["contentType"], base64.b64decode(record["payload"]))
            if time.monotonic() >= deadline:
                raise _Refused(_error(409, IN_USE, "A request with this Idempotency-Key is still running"))
            await asyncio.sleep(POLL_SECONDS)

    async def _run(self, scope: Scope, run: _Run, send: Send) -> None:
        """The route runs; its answer is stored (unless 5xx) before its last byte is sent."""
        assert run.receive is not None
        status = 0
        content_type = ""
        captured: list[bytes] = []
        size = 0
        stored = False
        hasher = hashlib.sha256()
        whole = run.body is not None
        upstream = run.receive

        async def hashing() -> Message:
            nonlocal whole
            message = await upstream()
            if message["type"] == "http.request":
                hasher.update(message.get("body", b""))
                whole = not message.get("more_body", False)
            return message

        async def capture(message: Message) -> None:
            nonlocal status, content_type, size, stored
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers") or ()).get(b"content-type", b"").decode("latin-1")
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= MAX_STORED_BODY:
                    captured.append(chunk)
                if not message.get("more_body", False) and status < 500 and size <= MAX_STORED_BODY and whole:
                    stored = await self._store(run, Stored(status, content_type, b"".join(captured)),
                                               run.body or hasher.hexdigest())
            await send(message)

        renewal = asyncio.create_task(self._renew(run))
        try:
            await self.app(scope, upstream if run.body is not None else hashing, capture)
        finally:
            renewal.cancel()
            if not stored:
                with contextlib.suppress(RedisError):
                    await self._swap(keys=[run.slot], args=[run.marker, "", 0])

    async def _store(self, run: _Run, answer: Stored, body: str) -> bool:
        record = json.dumps({"state": "done", "request": run.request, "body": body, "status": answer.status,
                             "contentType": answer.content_type,
                             "payload": base64.b64encode(answer.body).decode()})
        try:
            return bool(await self._swap(keys=[run.slot], args=[run.marker, record, RETENTION_SECONDS * 1000]))
        except RedisError as exc:
            log.warning("idempotent answer not stored", extra={"error": repr(exc)})
            return False

    async def _renew(self, run: _Run) -> None:
        while True:
            await asyncio.sleep(LEASE_MS / 3000)
            with contextlib.suppress(RedisError):
                await self._swap(keys=[run.slot], args=[run.marker, run.marker, LEASE_MS])


class _Run:
    """One keyed request: its slot, its fingerprint, and the body still to read (None once drained)."""

    def __init__(self, slot: str, request: str, body: str | None, receive: Receive | None):
        self.slot = slot
        self.request = request
        self.body = body  # SHA-256 of the body; None while a streamed body is unread
        self.receive = receive
        self.marker = running_marker(request, body)


async def _read_body(receive: Receive, max_bytes: int) -> tuple[bytes, bool]:
    """The whole body, or (what was read, False) as soon as it passes max_bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            return b"".join(chunks), False
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replaying(body: bytes, receive: Receive, more: bool = False) -> Callable[[], Awaitable[Message]]:
    """A receive that hands the route the body already read (`more`: only its start), then
    whatever follows."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": more}

    return replay


async def _drain(receive: Receive | None) -> str:
    """SHA-256 of a streamed body, read to the end and dropped chunk by chunk."""
    hasher = hashlib.sha256()
    while receive is not None:
        message = await receive()
        if message["type"] != "http.request":
            break
        hasher.update(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return hasher.hexdigest()
