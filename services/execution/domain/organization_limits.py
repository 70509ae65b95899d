"""An organization's dispatch limits, as the fair share reads them.

`room` is how many more calls it may start in this dispatch: under its concurrency limit (calls
in flight across all its executions) and under the calls-per-second tokens it was granted. A
limit of 0 is no limit. Missing limits (the account service did not answer and nothing is
cached) are no limits and weight 1: the program's, the trunks' and the dialers' limits still hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.execution.domain.fair_share import OrganizationShare


@dataclass(frozen=True)
class OrganizationLimits:
    max_concurrent_calls: int = 0  # 0: none
    max_calls_per_second: int = 0  # 0: none
    weight: int = 1


NO_LIMITS = OrganizationLimits()


def share(limits: OrganizationLimits, holding: int, tokens: int | None) -> OrganizationShare:
    """Its part in the fair share; `tokens` are the calls-per-second tokens granted (None: no limit)."""
    room: int | None = None
    if limits.max_concurrent_calls > 0:
        room = max(0, limits.max_concurrent_calls - holding)
    if tokens is not None:
        room = tokens if room is None else min(room, tokens)
    return OrganizationShare(holding=holding, weight=max(1, limits.weight), room=room)


def tokens_wanted(limits: OrganizationLimits, holding: int, demand: int, budget: int) -> int:
    """Calls-per-second tokens worth asking for: no more than it could be given this pass."""
    wanted = min(demand, budget)
    if limits.max_concurrent_calls > 0:
        wanted = min(wanted, limits.max_concurrent_calls - holding)
    return max(0, wanted)
