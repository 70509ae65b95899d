"""Contact limits (frequency caps): at most `maxAttempts` placed attempts to one phone number per
rolling window of `perDays` days, across every program and execution of the organization.

The window is `perDays` × 24 hours ending at the instant asked about: an attempt counted at `t`
holds a slot during (t, t + window) and has left the window at exactly `t + window`, whatever
the calendar or daylight saving does meanwhile. A contact over the cap is not failed: it is
deferred to the instant the oldest counted attempt that matters leaves the window, and one more
attempt may be placed from that instant on.

The counting itself is atomic elsewhere (the execution context keeps the counted attempts of
each number in Redis, shared by every replica); `decide` is the rule it applies, and the rule the
"why not called" answer asks. Limits are an organization setting (account context), validated
by `check`: both numbers are integers, `maxAttempts` 1-1000 and `perDays` 1-365.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_rules.checks import between, fail

MAX_ATTEMPTS = (1, 1000)
PER_DAYS = (1, 365)


@dataclass(frozen=True)
class ContactLimits:
    max_attempts: int
    per_days: int


def check(limits: ContactLimits) -> ContactLimits:
    """The limits of a request, unchanged when valid; else ValidationError naming the API field
    (`maxAttempts: must be between 1 and 1000`)."""
    for field, value, bounds in (("maxAttempts", limits.max_attempts, MAX_ATTEMPTS),
                                 ("perDays", limits.per_days, PER_DAYS)):
        # bool is an int to Python, never to the API.
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail(field, "must be an integer")
        between(field, value, bounds)
    return limits


def window(limits: ContactLimits) -> timedelta:
    """The rolling window's length: `perDays` days of 24 hours."""
    return timedelta(days=limits.per_days)


def decide(limits: ContactLimits, counted: Sequence[datetime], now: datetime) -> datetime | None:
    """None when one more attempt may be placed at `now`; else the instant it may be (> now).

    Counted attempts matter while they are in the window (now - window, now]. An attempt stamped
    after `now` (counted by another replica whose clock runs a hair ahead) matters too: the cap
    must hold in every window, including the one that ends at that later stamp. With k attempts
    that matter, one more fits when k < max_attempts; otherwise the (k - max_attempts + 1)-th
    oldest must leave first, which it does at its stamp + window — the deferral, exactly the
    first instant at which taking becomes possible (nothing leaves earlier, and nothing enters
    the past).
    """
    length = window(limits)
    matter = sorted(t for t in counted if t > now - length)
    if len(matter) < limits.max_attempts:
        return None
    return matter[len(matter) - limits.max_attempts] + length
