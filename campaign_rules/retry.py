"""Retry strategies: how many attempts a contact gets and when the next one is due.

- `none`: one attempt.
- `fixed_delay`: `delayMinutes` (1-10080) after each failure, `maxRetries` (0-20) retries.
- `scheduled`: 1-20 `retryDates`, strictly increasing; a retry waits for the first date still
  in the future, and dates already past are skipped.

`fixed_delay` and `scheduled` may name the outcomes they retry, `retryOn`: a non-empty subset of
busy, no_answer, failed, voicemail without duplicates; not given, all four (the behaviour before
the field existed). Another outcome ends the contact as failed. `invalid_number` is never retried
whatever the strategy says.

A strategy keeps only the fields of its type. The stored form is the API's camelCase JSON with
those fields only: {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2}, plus
"retryOn": [...] when it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from campaign_rules.checks import between, fail, instant, millis
from campaign_rules.proto import RetryOutcomesMessage, RetryStrategyMessage
from kernel.timefmt import iso, parse_iso

FIELD = "retryStrategy"
NONE = "none"
FIXED_DELAY = "fixed_delay"
SCHEDULED = "scheduled"
TYPES = (NONE, FIXED_DELAY, SCHEDULED)

DELAY_MINUTES = (1, 10080)
MAX_RETRIES = (0, 20)
RETRY_DATES = (1, 20)

# The outcomes a strategy may retry, in the API's order; the default of `retryOn`.
RETRY_ON = ("busy", "no_answer", "failed", "voicemail")


@dataclass(frozen=True)
class RetryStrategy:
    type: str = NONE
    delay_minutes: int = 0
    max_retries: int = 0
    retry_dates: tuple[datetime, ...] = ()
    retry_on: tuple[str, ...] | None = None  # None: not given, every outcome of RETRY_ON

    @property
    def retried_outcomes(self) -> tuple[str, ...]:
        """The outcomes this strategy retries (attempts and dates permitting)."""
        if self.type == NONE:
            return ()
        return RETRY_ON if self.retry_on is None else self.retry_on

    @property
    def max_attempts(self) -> int:
        if self.type == FIXED_DELAY:
            return 1 + max(0, self.max_retries)
        if self.type == SCHEDULED:
            return 1 + len(self.retry_dates)
        return 1


def _retry_on(message: RetryOutcomesMessage) -> tuple[str, ...]:
    field = f"{FIELD}.retryOn"
    if not message.outcomes:
        raise fail(field, f"must name at least one of {', '.join(RETRY_ON)} (type none never retries)")
    seen: list[str] = []
    for i, outcome in enumerate(message.outcomes):
        if outcome not in RETRY_ON:
            raise fail(f"{field}[{i}]", f"must be one of {', '.join(RETRY_ON)}")
        if outcome in seen:
            raise fail(f"{field}[{i}]", f"duplicate outcome '{outcome}'")
        seen.append(outcome)
    return tuple(seen)


def from_proto(message: RetryStrategyMessage) -> RetryStrategy:
    """The strategy of a request, checked and reduced to the fields of its type (`retryOn` last).
    Raises ValidationError naming the field."""
    if message.type not in TYPES:
        raise fail(f"{FIELD}.type", f"must be one of {', '.join(TYPES)}")
    if message.type == NONE:
        return RetryStrategy(NONE)
    if message.type == FIXED_DELAY:
        between(f"{FIELD}.delayMinutes", message.delay_minutes, DELAY_MINUTES)
        between(f"{FIELD}.maxRetries", message.max_retries, MAX_RETRIES)
        retry_on = _retry_on(message.retry_on) if message.HasField("retry_on") else None
        return RetryStrategy(FIXED_DELAY, message.delay_minutes, message.max_retries, retry_on=retry_on)
    low, high = RETRY_DATES
    if not low <= len(message.retry_dates) <= high:
        raise fail(f"{FIELD}.retryDates", f"must hold between {low} and {high} dates")
    dates = [instant(f"{FIELD}.retryDates[{i}]", d) for i, d in enumerate(message.retry_dates)]
    for i in range(1, len(dates)):
        if dates[i] <= dates[i - 1]:
            raise fail(f"{FIELD}.retryDates[{i}]", f"must be after retryDates[{i - 1}]")
    retry_on = _retry_on(message.retry_on) if message.HasField("retry_on") else None
    return RetryStrategy(SCHEDULED, retry_dates=tuple(millis(d) for d in dates), retry_on=retry_on)


def to_proto(strategy: RetryStrategy) -> RetryStrategyMessage:
    out = RetryStrategyMessage(type=strategy.type, delay_minutes=strategy.delay_minutes,
                               max_retries=strategy.max_retries, retry_dates=[iso(d) for d in strategy.retry_dates])
    if strategy.retry_on is not None:
        out.retry_on.outcomes.extend(strategy.retry_on)
        out.retry_on.SetInParent()
    return out


def from_json(data: Mapping[str, Any] | None) -> RetryStrategy:
    """From the stored form; None or {} is `none`. Fields at zero may be left out (rows written by
    protobuf's JSON printer)."""
    if not data:
        return RetryStrategy()
    dates = tuple(sorted(parse_iso(d) for d in data.get("retryDates") or ()))
    kind = data.get("type") or NONE
    retry_on = data.get("retryOn")
    if isinstance(retry_on, Mapping):  # protobuf's JSON printer keeps the wrapper message
        retry_on = retry_on.get("outcomes") or []
    return RetryStrategy(type=kind, delay_minutes=int(data.get("delayMinutes") or 0),
                         max_retries=int(data.get("maxRetries") or 0), retry_dates=dates,
                         retry_on=tuple(retry_on) if retry_on is not None and kind != NONE else None)


def to_json(strategy: RetryStrategy) -> dict[str, Any]:
    """Only the fields of its type, as the API shows them; `retryOn` only when it was given."""
    out: dict[str, Any] = {"type": strategy.type}
    if strategy.type == FIXED_DELAY:
        out.update(delayMinutes=strategy.delay_minutes, maxRetries=strategy.max_retries)
    elif strategy.type == SCHEDULED:
        out["retryDates"] = [iso(d) for d in strategy.retry_dates]
    else:
        return out
    if strategy.retry_on is not None:
        out["retryOn"] = list(strategy.retry_on)
    return out


def retries_outcome(strategy: RetryStrategy, outcome: str) -> bool:
    """Whether an attempt that ended with `outcome` may be retried under `strategy` (attempts
    and dates permitting): the outcome is one of its `retryOn` (all four when not given); `none`
    retries nothing, and `invalid_number`, `answered` or any other outcome is never retried."""
    return outcome in strategy.retried_outcomes


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
