"""Organizations' dispatch limits from the account service, cached for a few seconds.

Every dispatch pass needs them; they change rarely (an operator's command), so a pass reads the
cache and only ids unknown or older than `ttl_seconds` are asked for, all in one request. The
account service out of reach keeps the last answer in use (logged once), or no limits for an
organization never read: a dispatch is never held up by the account service.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

from kernel import logs
from services.execution.domain.organization_limits import NO_LIMITS, OrganizationLimits

log = logs.get("execution.org_limits")


class OrgLimits:
    def __init__(self, fetch: Callable[[list[str]], Awaitable[dict[str, OrganizationLimits]]],
                 ttl_seconds: float = 5.0):
        self.fetch = fetch  # Peers.dispatch_limits: the known ids' limits, unknown ids absent
        self.ttl_seconds = ttl_seconds
        self._cache: dict[str, tuple[OrganizationLimits, float]] = {}
        self._failing = False

    async def of(self, organization_ids: Iterable[str]) -> dict[str, OrganizationLimits]:
        ids = set(organization_ids)
        now = time.monotonic()
        stale = sorted(i for i in ids if i not in self._cache or self._cache[i][1] <= now)
        if stale:
            await self._refresh(stale, now)
        return {i: self._cache[i][0] if i in self._cache else NO_LIMITS for i in ids}

    async def _refresh(self, ids: list[str], now: float) -> None:
        try:
            answer = await self.fetch(ids)
        except Exception as exc:  # the last answer stays in use; retried at the next pass
            if not self._failing:
                log.warning("organization limits unknown: the last ones known stay in use", extra={"error": repr(exc)})
            self._failing = True
            return
        self._failing = False
        until = now + self.ttl_seconds
        for organization_id in ids:
            self._cache[organization_id] = (answer.get(organization_id, NO_LIMITS), until)
