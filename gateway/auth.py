"""x-api-key authentication: the key is checked by the account service, briefly cached."""

from __future__ import annotations

import hashlib
import time

from fastapi import Request

from gateway.clients import Clients, call
from kernel import errors
from outbound.account.v1 import account_pb2

# A revoked key stops working within this many seconds.
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, str]] = {}


def clients(request: Request) -> Clients:
    return request.app.state.clients


async def organization_id(request: Request) -> str:
    """FastAPI dependency: the caller's organization id, or 401 UnauthorizedError."""
    key = request.headers.get("x-api-key", "")
    if not key:
        raise errors.UnauthorizedError("Missing x-api-key header")
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached and cached[0] > now:
        request.state.organization_id = cached[1]
        return cached[1]
    try:
        answer = await call(clients(request).account.AuthenticateApiKey,
                            account_pb2.AuthenticateApiKeyRequest(api_key=key))
    except errors.NotFoundError:
        raise errors.UnauthorizedError("Invalid API key") from None
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now + CACHE_SECONDS, answer.organization_id)
    request.state.organization_id = answer.organization_id
    return answer.organization_id
