"""When a failed delivery is tried again, and when it is given up.

Attempt n (1-based) failed → the next attempt waits `min(cap, base * 2**(n-1))` scaled by a jitter
in [0.75, 1]: so while the cap is not reached every wait is longer than the one before it (the
shortest next wait, 1.5× the previous nominal one, exceeds the longest previous one), and
replicas retrying many deliveries at once spread out. A next attempt that would fall after the
horizon (measured from the delivery's creation) is not made: the delivery is failed.
These are real seconds: webhooks leave the system, so the virtual clock does not apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

JITTER_LOW = 0.75


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    horizon_seconds: float = 24 * 3600.0


def nominal_delay(policy: RetryPolicy, failed_attempts: int) -> float:
    """The wait after the `failed_attempts`-th failure, before jitter (seconds)."""
    exponent = min(max(failed_attempts, 1) - 1, 62)  # 2**62 × base exceeds any cap
    return min(policy.cap_seconds, policy.base_seconds * (2.0 ** exponent))


def delay(policy: RetryPolicy, failed_attempts: int, jitter: float) -> float:
    """The wait after the `failed_attempts`-th failure; `jitter` in [0, 1] picks its place in the band."""
    low = JITTER_LOW + (1.0 - JITTER_LOW) * min(max(jitter, 0.0), 1.0)
    return nominal_delay(policy, failed_attempts) * low


def next_attempt(policy: RetryPolicy, created_at: datetime, now: datetime, failed_attempts: int,
                 jitter: float) -> datetime | None:
    """When to try again after a failure at `now`; None: the horizon is passed, the delivery fails."""
    due = now + timedelta(seconds=delay(policy, failed_attempts, jitter))
    if due > created_at + timedelta(seconds=policy.horizon_seconds):
        return None
    return due
