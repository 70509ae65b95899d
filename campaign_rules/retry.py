"""Retry strategies: how many attempts a contact gets and when the next one is due.

- `none`: one attempt.
- `fixed_delay`: `delayMinutes` (1-10080) after each failure, `maxRetries` (0-20) retries.
- `scheduled`: 1-20 `retryDates`, strictly increasing; a retry waits for the first date still
  in the future, and dates already past are skipped.

A strategy keeps only the fields of its type. The stored form is the API's camelCase JSON with
those fields only: {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaign_rules.checks import between, fail, instant, millis
from campaign_rules.proto import RetryStrategyMessage
from kernel.timefmt import iso, parse_iso

FIELD = "retryStrategy"
NONE = "none"
FIXED_DELAY = "fixed_delay"
SCHEDULED = "scheduled"
TYPES = (NONE, FIXED_DELAY, SCHEDULED)

DELAY_MINUTES = (1, 10080)
MAX_RETRIES = (0, 20)
RETRY_DATES = (1, 20)


@dataclass(frozen=True)
class RetryStrategy:
    type: str = NONE
    delay_minutes: int = 0
    max_retries: int = 0
    retry_dates: tuple[datetime, ...] = ()

    @property
    def max_attempts(self) -> int:
        if self.type == FIXED_DELAY:
            return 1 + max(0, self.max_retries)
        if self.type == SCHEDULED:
            return 1 + len(self.retry_dates)
        return 1


def from_proto(message: RetryStrategyMessage) -> RetryStrategy:
    """The strategy of a request, checked and reduced to the fields of its type. Raises
    ValidationError naming the field."""
    if message.type not in TYPES:
        raise fail(f"{FIELD}.type", f"must be one of {', '.join(TYPES)}")
    if message.type == NONE:
        return RetryStrategy(NONE)
    if message.type == FIXED_DELAY:
        between(f"{FIELD}.delayMinutes", message.delay_minutes, DELAY_MINUTES)
        between(f"{FIELD}.maxRetries", message.max_retries, MAX_RETRIES)
        return RetryStrategy(FIXED_DELAY, message.delay_minutes, message.max_retries)
    low, high = RETRY_DATES
    if not low <= len(message.retry_dates) <= high:
        raise fail(f"{FIELD}.retryDates", f"must hold between {low} and {high} dates")
    dates = [instant(f"{FIELD}.retryDates[{i}]", d) for i, d in enumerate(message.retry_dates)]
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise fail(f"{FIELD}.retryDates[{i}]", f"must be after retryDates[{i - 1}]")
    return RetryStrategy(SCHEDULED, retry_dates=tuple(millis(d) for d in dates))


def to_proto(strategy: RetryStrategy) -> RetryStrategyMessage:
    return RetryStrategyMessage(type=strategy.type, delay_minutes=strategy.delay_minutes,
                                max_retries=strategy.max_retries, retry_dates=[iso(d) for d in strategy.retry_dates])


def from_json(data: Mapping[str, Any] | None) -> RetryStrategy:
    """From the stored form; None or {} is `none`. Fields at zero may be left out (rows written by
    protobuf's JSON printer)."""
    if not data:
        return RetryStrategy()
    dates = tuple(sorted(parse_iso(d) for d in data.get("retryDates") or ()))
    return RetryStrategy(type=data.get("type") or NONE, delay_minutes=int(data.get("delayMinutes") or 0),
                         max_retries=int(data.get("maxRetries") or 0), retry_dates=dates)


def to_json(strategy: RetryStrategy) -> dict[str, Any]:
    """Only the fields of its type, as the API shows them."""
    if strategy.type == FIXED_DELAY:
        return {"type": strategy.type, "delayMinutes": strategy.delay_minutes, "maxRetries": strategy.max_retries}
    if strategy.type == SCHEDULED:
        return {"type": strategy.type, "retryDates": [iso(d) for d in strategy.retry_dates]}
    return {"type": strategy.type}


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
