"""Weighted fair share: which executions claim how many contacts when capacity is short.

A dispatch may add `budget` calls. Organizations share them by weight, and the executions of one
organization share their organization's part equally; what counts is the calls each already
holds in flight, so an idle organization is served before a busy one gets more.

The rule, one unit of the budget at a time:

1. An organization *still wants more* while its claimants' remaining demand is above 0 and its
   room (if any) is not used up. Among those, the unit goes to the organization with the lowest
   `(holding + given) / weight`; ties go to the lowest organization id.
2. Inside that organization the unit goes to the execution with the lowest `holding + given`
   among those with remaining demand; ties go to the lowest execution id.
3. It stops when the budget is spent or nobody wants more.

Invariants: the total given is `min(budget, Σ_org min(Σ demand, room))` (nothing when budget
<= 0); no execution gets more than its demand, no organization more than its room; and, once
allocated, for any organization j given > 0 and any organization i still wanting more,
`(h_i + g_i) / w_i >= (h_j + g_j - 1) / w_j` (no organization envies another by more than the
last unit), and the same with weights 1 between the executions of one organization. Over time
each organization holds channels in proportion to its weight while it wants them: weighted
max-min fairness on holdings ("water-filling").

An organization missing from `organizations` counts as holding its claimants' holdings, weight 1,
no room limit. A demand or room below 0 counts as 0: both are differences that go negative when a
limit is lowered under what is in flight.

Worked example, budget 10:

    organization  holding  weight  room   claimants (holding, demand)
    A             8        2       -      a1 (8, 20)
    B             0        1       -      b1 (0, 2), b2 (0, 9)
    C             1        1       2      c1 (1, 9)

Levels `(holding + given) / weight` start at A 4, B 0, C 1. The ten units go, in order, to
B (level 0), B (1, tied with C, B first by id), C (1), B (2, tie), C (2; C's room of 2 is now
used up), B (3), A (4, tied with B, A first), B (4), A (4.5), A (5, tied with B). Given: A 3,
B 5, C 2. Inside B, b1 and b2 both start at 0 and alternate, b1 first on ties: b1, b2, b1 (b1's
demand of 2 is met), b2, b2. Result: a1 3, b1 2, b2 3, c1 2.

The computation gives exactly the result of the unit-by-unit rule without its loop. Each party
(an organization, or an execution inside one) has its units at rising levels, so the rule gives
the `budget` lowest units by (level, id): the computation finds the level at which the budget
runs out (in exact integer arithmetic), gives every unit below it, then what is left one unit
each, in id order, to the parties with a unit at that level. O(n log n) in the claimants,
whatever the budget.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate


@dataclass(frozen=True)
class Claimant:
    """An execution that wants calls now."""
    execution_id: str
    organization_id: str
    demand: int    # contacts it may claim now (>= 0): free under its own limit, and pending
    holding: int   # its calls in flight now (>= 0)


@dataclass(frozen=True)
class OrganizationShare:
    holding: int             # the organization's calls in flight, all its executions (>= 0)
    weight: int = 1          # >= 1
    room: int | None = None  # at most this many more now (its own limits); None = no limit

    def __post_init__(self) -> None:
        if self.weight < 1:
            raise ValueError(f"an organization's weight is at least 1, not {self.weight}")


def allocate(budget: int, claimants: Sequence[Claimant],
             organizations: Mapping[str, OrganizationShare]) -> dict[str, int]:
    """execution_id -> how many contacts it claims now. Executions given 0 are absent."""
    ids = [c.execution_id for c in claimants]
    if len(set(ids)) != len(ids):
        raise ValueError("an execution appears twice among the claimants")
    members: dict[str, list[Claimant]] = defaultdict(list)
    held: dict[str, int] = defaultdict(int)  # for an organization missing from `organizations`
    for claimant in claimants:
        held[claimant.organization_id] += claimant.holding
        if claimant.demand > 0:
            members[claimant.organization_id].append(claimant)
    shares = {org: share if (share := organizations.get(org)) is not None else OrganizationShare(held[org])
              for org in members}
    if budget <= 0 or not shares:
        return {}
    orgs = list(shares)
    caps = []
    for org in orgs:
        share, wanted = shares[org], sum(c.demand for c in members[org])
        caps.append(wanted if share.room is None else min(wanted, max(0, share.room)))
    holdings, weights = [shares[o].holding for o in orgs], [shares[o].weight for o in orgs]
    by_org = _weighted_fill(budget, orgs, holdings, weights, caps)
    result: dict[str, int] = {}
    for org, given in by_org.items():
        group = members[org]
        if len(group) == 1:  # the common case: one running execution
            result[group[0].execution_id] = given
        else:
            result.update(_even_fill(given, [c.execution_id for c in group], [c.holding for c in group],
                                     [c.demand for c in group]))
    return result


def _weighted_fill(budget: int, keys: Sequence[str], holdings: Sequence[int], weights: Sequence[int],
                   caps: Sequence[int]) -> dict[str, int]:
    """The `budget` lowest units by ((holding + t) / weight, key), t < cap: key -> given > 0.

    Bucket i has clamp(ceil(x * w_i) - h_i, 0, cap_i) units below a level x: one expression for
    all buckets of one weight, so each weight counts its units below x with two bisections over
    prefix sums. A binary search over x = m / D finds the step [m / D, (m + 1) / D) where the
    count passes the budget; with D above the square of the largest weight, two different levels
    (at least 1 / (w_i * w_j) apart) never share a step, so exactly one level lies in it, the
    level T at which the budget runs out: all units below T are given, the rest at T.
    """
    if budget >= sum(caps):
        return {key: cap for key, cap in zip(keys, caps, strict=True) if cap > 0}
    live = [(key, holding, weight, cap)
            for key, holding, weight, cap in zip(keys, holdings, weights, caps, strict=True) if cap > 0]
    by_weight: dict[int, tuple[list[int], list[int]]] = {}
    for _, holding, weight, cap in live:
        first, ends = by_weight.setdefault(weight, ([], []))
        first.append(holding)
        ends.append(holding + cap)
    groups = []
    for weight, (first, ends) in by_weight.items():
        first.sort()
        ends.sort()
        groups.append((weight, first, list(accumulate(first, initial=0)),
                       ends, list(accumulate(ends, initial=0))))
    scale = max(by_weight) ** 2 + 1

    def below(m: int) -> int:
        """Units at levels below m / scale."""
        n = 0
        for weight, first, first_sums, ends, end_sums in groups:
            c = -(-m * weight // scale)
            # clamp(c - holding, 0, cap) = max(0, c - holding) - max(0, c - (holding + cap))
            i, j = bisect_left(first, c), bisect_left(ends, c)
            n += c * i - first_sums[i] - c * j + end_sums[j]
        return n

    low = min(holding * scale // weight for _, holding, weight, _ in live)             # none below
    high = max(-(-(holding + cap) * scale // weight) for _, holding, weight, cap in live)  # all below
    while high - low > 1:
        mid = (low + high) // 2
        if below(mid) <= budget:
            low = mid
        else:
            high = mid
    # The one level in [low / scale, high / scale), as a fraction: a bucket's first unit there.
    level = next((holding + t, weight) for _, holding, weight, cap in live
                 if (t := max(0, -(-low * weight // scale) - holding)) < cap
                 and (holding + t) * scale < high * weight)
    given: dict[str, int] = {}
    at_level: list[str] = []
    for key, holding, weight, cap in live:
        units = min(cap, max(0, -(-level[0] * weight // level[1]) - holding))
        if units:
            given[key] = units
            budget -= units
        if units < cap and (holding + units) * level[1] == level[0] * weight:
            at_level.append(key)
    return _top_up(given, budget, at_level)


def _even_fill(budget: int, keys: Sequence[str], holdings: Sequence[int],
               caps: Sequence[int]) -> dict[str, int]:
    """The `budget` lowest units by (holding + t, key), t < cap: key -> given > 0.

    Units below a level T, the sum of clamp(T - holding, 0, cap), grow by the number of buckets
    still filling between two consecutive holdings or ends, so one sweep over those points finds
    the highest level with at most `budget` units below it.
    """
    if budget >= sum(caps):
        return {key: cap for key, cap in zip(keys, caps, strict=True) if cap > 0}
    points: list[tuple[int, int]] = []
    for holding, cap in zip(holdings, caps, strict=True):
        if cap > 0:
            points += ((holding, 1), (holding + cap, -1))
    points.sort()
    level, filling, units = points[0][0], 0, 0
    for point, change in points:
        reached = units + filling * (point - level)
        if reached > budget:  # so filling > 0: the level lies before this point
            break
        level, units, filling = point, reached, filling + change
    low = level + (budget - units) // filling
    given: dict[str, int] = {}
    at_low: list[str] = []
    for key, holding, cap in zip(keys, holdings, caps, strict=True):
        if cap > 0:
            units = min(cap, max(0, low - holding))
            if units:
                given[key] = units
                budget -= units
            if units < cap and holding + units == low:
                at_low.append(key)
    return _top_up(given, budget, at_low)


def _top_up(given: dict[str, int], left: int, at_low: list[str]) -> dict[str, int]:
    """`given` holds every unit below the level found; what the budget has `left` goes one unit
    each to the buckets with a unit at that level, in key order (there are more of them)."""
    for key in sorted(at_low)[:left]:
        given[key] = given.get(key, 0) + 1
    return given
