"""Retry strategies: how many attempts a contact gets and when the next one is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kernel.timefmt import parse_iso

NONE = "none"
FIXED_DELAY = "fixed_delay"
SCHEDULED = "scheduled"


@dataclass(frozen=True)
class RetryStrategy:
    type: str = NONE
    delay_minutes: int = 0
    max_retries: int = 0
    retry_dates: tuple[datetime, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RetryStrategy:
        if not data:
            return cls()
        kind = data.get("type") or NONE
        dates = tuple(sorted(parse_iso(d) for d in data.get("retryDates") or ()))
        return cls(type=kind, delay_minutes=int(data.get("delayMinutes") or 0),
                   max_retries=int(data.get("maxRetries") or 0), retry_dates=dates)

    @property
    def max_attempts(self) -> int:
        if self.type == FIXED_DELAY:
            return 1 + max(0, self.max_retries)
        if self.type == SCHEDULED:
            return 1 + len(self.retry_dates)
        return 1


def next_attempt_at(strategy: RetryStrategy, attempts_made: int, now: datetime) -> datetime | None:
    """When the next attempt is due after `attempts_made` unsuccessful ones; None: no more.

    fixed_delay: `delayMinutes` after the failure, while attempts remain.
    scheduled: the first retry date still in the future (dates already past are skipped),
    while attempts remain.
    """
    if attempts_made >= strategy.max_attempts:
        return None
    if strategy.type == FIXED_DELAY:
        return now + timedelta(minutes=strategy.delay_minutes)
    if strategy.type == SCHEDULED:
        for date in strategy.retry_dates:
            if date > now:
                return date
        return None
    return None
