"""Admission: how many contacts each execution claims in one dispatch pass.

Capacity is granted before a dial request is queued, never by its place in the queue: a pass
claims no more than the dialers' free channels (their announced channels minus every call in
flight, all organizations), no more than the dispatch budget (the queue's own limit), and shares
that between the organizations that want calls by weighted fair share on what they already hold
(domain/fair_share.py), each within its own concurrency limit and calls-per-second tokens
(domain/organization_limits.py), then equally between an organization's executions. It runs in
the claim's transaction after the dispatch lock (adapters/in_flight.py), so the calls in flight
it reads stay true until the claims commit, whichever replica dispatches.

An execution given more than it has due (its pending contacts wait for a retry delay, or for a
calling-hours opening) claims less than it was given; what it left is shared again between the
others in the same transaction (`again`), so capacity never idles behind an execution that
cannot use it. Calls-per-second tokens are taken before the allocation (at most what the
organization could be given) and what was not used — not allocated, or not claimed — goes back
to its bucket. Redis
out of reach: an organization with a calls-per-second limit claims nothing this pass; unknown
dialer channels leave the budget alone (the queue's limit and the request deadline still hold).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from kernel import logs
from services.execution.adapters import in_flight
from services.execution.adapters.dial_capacity import DialCapacity
from services.execution.adapters.org_call_rate import OrgCallRate, RateUnavailable
from services.execution.adapters.org_limits import OrgLimits
from services.execution.domain.fair_share import Claimant, allocate
from services.execution.domain.organization_limits import NO_LIMITS, OrganizationLimits, share, tokens_wanted

log = logs.get("execution.admission")


@dataclass
class Admitted:
    """One pass's grant: its first allocation, and what further rounds share from."""

    limits: dict[str, int]  # execution id → contacts it claims now (first round)
    organizations: dict[str, str] = field(default_factory=dict)  # execution id → organization id
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)  # organization → (taken, its limit)
    budget: int = 0  # what the pass may still claim, all rounds
    holdings: dict[str, int] = field(default_factory=dict)  # organization → in flight, this pass's claims too
    org_limits: dict[str, OrganizationLimits] = field(default_factory=dict)
    claimed: Counter[str] = field(default_factory=Counter)  # organization → claimed in earlier rounds


class FairAdmission:
    def __init__(self, capacity: DialCapacity | None = None, rates: OrgCallRate | None = None,
                 limits: OrgLimits | None = None):
        self.capacity = capacity
        self.rates = rates
        self.limits = limits

    async def admit(self, conn: AsyncConnection, wanted: Sequence[Claimant], budget: int) -> Admitted:
        wanted = [c for c in wanted if c.demand > 0]
        organizations = {c.organization_id for c in wanted}
        # Asked before the dispatch lock, so that another replica's pass never waits for them.
        limits = await self.limits.of(organizations) if self.limits is not None and wanted else {}
        channels = await self.capacity.channels() if self.capacity is not None else None
        await in_flight.take_dispatch_turn(conn)
        holdings = await in_flight.by_organization(conn)
        if channels is not None:
            budget = min(budget, channels - sum(holdings.values()))
        if budget <= 0 or not wanted:
            return Admitted({})
        demand = Counter[str]()
        for c in wanted:
            demand[c.organization_id] += c.demand
        rated = {o: limits[o].max_calls_per_second for o in organizations
                 if limits.get(o, NO_LIMITS).max_calls_per_second > 0}
        granted = await self._take(
            {o: (tokens_wanted(limits[o], holdings.get(o, 0), demand[o], budget), cps) for o, cps in rated.items()})
        shares = {o: share(limits.get(o, NO_LIMITS), holdings.get(o, 0), granted.get(o, 0) if o in rated else None)
                  for o in organizations}
        allocation = allocate(budget, wanted, shares)
        of = {c.execution_id: c.organization_id for c in wanted}
        given = Counter[str]()
        for execution_id, n in allocation.items():
            given[of[execution_id]] += n
        await self._give_back({o: (granted[o] - given[o], rated[o]) for o in granted if granted[o] > given[o]})
        return Admitted(allocation, of, {o: (given[o], rated[o]) for o in granted if given[o] > 0},
                        budget, {o: holdings.get(o, 0) for o in organizations}, limits)

    def again(self, admitted: Admitted, claimed: Counter[str], wanted: Sequence[Claimant]) -> dict[str, int]:
        """The next round: `claimed` per organization in the last round, `wanted` the executions
        that may still claim (their demand and holding updated). Tokens are not taken again: an
        organization with a calls-per-second limit shares only the tokens it left unused."""
        admitted.claimed.update(claimed)
        for organization, n in claimed.items():
            admitted.holdings[organization] = admitted.holdings.get(organization, 0) + n
            admitted.budget -= n
        wanted = [c for c in wanted if c.demand > 0]
        if admitted.budget <= 0 or not wanted:
            return {}
        shares = {}
        for o in {c.organization_id for c in wanted}:
            limits = admitted.org_limits.get(o, NO_LIMITS)
            tokens = (admitted.tokens.get(o, (0, 0))[0] - admitted.claimed[o]
                      if limits.max_calls_per_second > 0 else None)
            shares[o] = share(limits, admitted.holdings.get(o, 0), tokens)
        admitted.organizations.update({c.execution_id: c.organization_id for c in wanted})
        return allocate(admitted.budget, wanted, shares)

    async def settle(self, admitted: Admitted, claimed: Counter[str]) -> None:
        """Tokens taken for contacts the claim did not start (none due, screened out) go back;
        `claimed` counts the calls started per organization."""
        await self._give_back({o: (taken - claimed[o], cps) for o, (taken, cps) in admitted.tokens.items()
                               if taken > claimed[o]})

    async def _take(self, asks: dict[str, tuple[int, int]]) -> dict[str, int]:
        asks = {o: a for o, a in asks.items() if a[0] > 0}
        if not asks or self.rates is None:
            return {o: 0 for o in asks}
        try:
            return await self.rates.take(asks)
        except RateUnavailable as exc:
            log.warning("calls-per-second limits unknown: the organizations that have one wait",
                        extra={"error": str(exc), "organizations": len(asks)})
            return {o: 0 for o in asks}

    async def _give_back(self, unused: dict[str, tuple[int, int]]) -> None:
        if not unused or self.rates is None:
            return
        try:
            await self.rates.give_back(unused)
        except RateUnavailable:
            pass  # the bucket refills by itself within a second: a little less, never more
