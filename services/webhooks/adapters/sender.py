"""The HTTP side of a delivery: resolve the endpoint's host, check it may be called, POST the
signed body with a timeout, and tell what happened (never raises for the far end's faults)."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx

from services.webhooks.domain import signature, url_policy
from services.webhooks.domain.model import Claimed, Outcome

USER_AGENT = "Outbound-Webhooks/1"


async def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (none when it does not resolve)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


async def refusal(url: str, allow_private: bool) -> str | None:
    """Why `url` may not be called now (its host's addresses, as DNS answers today), or None."""
    _, host = url_policy.parse(url)
    return url_policy.refusal(host, await resolve(host), allow_private)


class Sender:
    def __init__(self, *, timeout_seconds: float, allow_private: bool):
        self._allow_private = allow_private
        # Redirects are not followed: the policy checked this URL's host, not another's.
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, claimed: Claimed) -> Outcome:
        try:
            refused = await refusal(claimed.url, self._allow_private)
        except Exception as exc:  # a URL stored before a stricter rule: refused, with the reason
            refused = str(exc)
        if refused:
            return Outcome(delivered=False, response_code=None, error=f"refused: {refused}")
        headers = {
            "Content-Type": "application/json",
            signature.HEADER: signature.sign(claimed.secret, claimed.body, int(time.time())),
            signature.EVENT_ID_HEADER: claimed.event_id,
        }
        try:
            response = await self._client.post(claimed.url, content=claimed.body, headers=headers)
        except httpx.TimeoutException:
            return Outcome(delivered=False, response_code=None, error="timeout: no answer in time")
        except httpx.HTTPError as exc:
            return Outcome(delivered=False, response_code=None, error=f"connection: {type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return Outcome(delivered=True, response_code=response.status_code, error="")
        return Outcome(delivered=False, response_code=response.status_code,
                       error=f"HTTP {response.status_code}: {response.text[:200]}")
