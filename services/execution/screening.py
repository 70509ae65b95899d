"""The claim-time checks of who may be called: the organization's do-not-call list and its
frequency cap (contact limits).

They run inside the claim's transaction, after the claim and before any dial request is
published, so what they decide commits with the claim or not at all. A contact whose number is
listed is skipped (reason `dnc`) and never called; one over the cap goes back to pending, its
attempt not consumed, due when the oldest counted attempt leaves the window. The list is read at
every claim, so a number listed mid-campaign is not called again. A peer that does not answer
fails the claim (rolled back, tried again at the next pass): a check is never skipped. An
attempt counted against the cap whose claim then rolls back stays counted until it leaves the
window: the cap may hold a number back early, never let one through late.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from campaign_rules.contact_limits import ContactLimits
from services.execution.adapters.claims import Attempt
from services.execution.adapters.contact_caps import CapAsk, ContactCaps
from services.execution.domain.contacts import attempt_id

LIMITS_TTL_SECONDS = 5.0  # an organization's changed contact limits apply within this


class ScreeningUnavailable(Exception):
    """A peer or Redis did not answer: the claim must not go ahead (it is rolled back)."""


class CompliancePeers(Protocol):
    async def listed_dnc(self, organization_id: str, phones: Sequence[str]) -> set[str]: ...

    async def contact_limits(self, organization_id: str) -> ContactLimits | None: ...


@dataclass
class Screened:
    kept: list[Attempt] = field(default_factory=list)
    listed: list[Attempt] = field(default_factory=list)  # skipped: on the do-not-call list
    deferred: dict[int, datetime] = field(default_factory=dict)  # contact row id → due again (cap)


class Screening:
    def __init__(self, peers: CompliancePeers, caps: ContactCaps):
        self.peers = peers
        self.caps = caps
        self._limits: dict[str, tuple[ContactLimits | None, float]] = {}

    async def limits(self, organization_id: str) -> ContactLimits | None:
        cached = self._limits.get(organization_id)
        if cached is None or time.monotonic() >= cached[1]:
            cached = (await self.peers.contact_limits(organization_id), time.monotonic() + LIMITS_TTL_SECONDS)
            self._limits[organization_id] = cached
        return cached[0]

    async def screen(self, claimed: Sequence[Attempt], organizations: Mapping[str, str], now: datetime) -> Screened:
        """`organizations`: execution id → organization id. ScreeningUnavailable when a check
        could not be made."""
        try:
            return await self._screen(claimed, organizations, now)
        except Exception as exc:
            raise ScreeningUnavailable(repr(exc)) from exc

    async def _screen(self, claimed: Sequence[Attempt], organizations: Mapping[str, str], now: datetime) -> Screened:
        out = Screened()
        by_org: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in claimed:
            by_org[organizations[attempt.execution_id]].append(attempt)
        for organization_id, attempts in by_org.items():
            listed = await self.peers.listed_dnc(organization_id, sorted({a.phone for a in attempts}))
            callable_now = [a for a in attempts if a.phone not in listed]
            out.listed.extend(a for a in attempts if a.phone in listed)
            limits = await self.limits(organization_id) if callable_now else None
            if limits is None:
                out.kept.extend(callable_now)
                continue
            asks = [CapAsk(a.phone, attempt_id(a.execution_id, a.contact_ref, a.attempt)) for a in callable_now]
            answers = await self.caps.take(organization_id, asks, limits, now)
            for attempt, until in zip(callable_now, answers, strict=True):
                if until is None:
                    out.kept.append(attempt)
                else:
                    out.deferred[attempt.id] = until
        return out
