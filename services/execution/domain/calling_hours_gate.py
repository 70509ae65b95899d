"""Which zone keys of an execution with calling hours may be called now, until when, and when the
others open (campaign_rules.calling_hours asked once per key, never once per contact).

A key is open when the instant is allowed in every zone of the key. A contact of a closed key is
not claimed: its next attempt moves to the key's next opening, so it neither waits in front of
the others nor is looked at again before then. A dial request for an open key carries the key's
closing as a deadline, so a request queued just before the closing is never started after it.
Calling hours are minute-exact in local time, so the closing is the first whole minute at which
the key is no longer allowed; one not within `horizon` (the request's own time to live) needs no
deadline of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_rules.calling_hours import CallingHours, allowed, next_opening
from campaign_rules.contact_zones import zones_of

MINUTE = timedelta(minutes=1)
# A key that never opens within calling_hours' search horizon is looked at again after this.
NO_OPENING_RETRY = timedelta(days=1)


@dataclass(frozen=True)
class ZoneGate:
    """Open keys with their deadline, closed keys with their next opening, and until when this
    answer holds (no key opens or closes before)."""

    open: dict[str, datetime]
    closed: dict[str, datetime]
    valid_until: datetime

    def deadline(self, key: str | None) -> datetime | None:
        return None if key is None else self.open.get(key)


def closing(hours: CallingHours, zones: tuple[str, ...], now: datetime, horizon: timedelta) -> datetime:
    """The first whole minute after `now` at which the zones are no longer allowed, or
    `now + horizon` when they stay allowed that long."""
    end = now + horizon
    at = now.replace(second=0, microsecond=0) + MINUTE
    while at < end:
        if not allowed(hours, zones, at):
            return at
        at += MINUTE
    return end


def gate(hours: CallingHours, keys: Iterable[str], now: datetime, horizon: timedelta) -> ZoneGate:
    opened: dict[str, datetime] = {}
    closed: dict[str, datetime] = {}
    # Reused for half the horizon at most: a deadline computed now still covers a request then.
    valid_until = now + horizon / 2
    for key in keys:
        zones = zones_of(key)
        if allowed(hours, zones, now):
            opened[key] = closing(hours, zones, now, horizon)
            if opened[key] < now + horizon:
                valid_until = min(valid_until, opened[key])
        else:
            opening = next_opening(hours, zones, now) or now + NO_OPENING_RETRY
            closed[key] = opening
            valid_until = min(valid_until, opening)
    return ZoneGate(opened, closed, valid_until)
