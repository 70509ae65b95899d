"""Pause windows: when no call may start.

Weekly windows are wall-clock times in the program's time zone: a window is open while
the local clock reads in [start, end). A window whose end is before its start wraps
past midnight into the next day. Equal start and end is an empty window. Advanced
windows are absolute instants [startAt, endAt).

Wall-clock semantics make DST simple: on a spring-forward day the skipped local hour
does not exist, so nothing is inside it; on a fall-back day the repeated hour is inside
a window covering it both times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kernel.timefmt import parse_iso

# Python weekday() order: Monday = 0.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class WeeklyWindow:
    start: time
    end: time


@dataclass(frozen=True)
class AbsoluteWindow:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class PauseWindows:
    weekly: tuple[tuple[WeeklyWindow, ...], ...]  # index = weekday(), Monday first
    advanced: tuple[AbsoluteWindow, ...] = ()

    @classmethod
    def empty(cls) -> PauseWindows:
        return cls(weekly=tuple(() for _ in WEEKDAYS))

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PauseWindows:
        """From the API shape: {"monday": [{"startAt": {"hour", "minute"}, "endAt": ...}], "advanced": [...]}."""
        if not data:
            return cls.empty()
        weekly = []
        for day in WEEKDAYS:
            items = []
            for item in data.get(day) or ():
                start, end = item.get("startAt") or {}, item.get("endAt") or {}
                items.append(WeeklyWindow(time(int(start.get("hour", 0)), int(start.get("minute", 0))),
                                          time(int(end.get("hour", 0)), int(end.get("minute", 0)))))
            weekly.append(tuple(items))
        advanced = tuple(
            AbsoluteWindow(parse_iso(item["startAt"]), parse_iso(item["endAt"]))
            for item in data.get("advanced") or () if item.get("startAt") and item.get("endAt")
        )
        return cls(weekly=tuple(weekly), advanced=advanced)

    def is_empty(self) -> bool:
        return not self.advanced and not any(self.weekly)


def is_paused(windows: PauseWindows, timezone: str, now: datetime) -> bool:
    """True when `now` (an aware instant) falls inside any window."""
    for window in windows.advanced:
        if window.start <= now < window.end:
            return True
    if not any(windows.weekly):
        return False
    local = now.astimezone(ZoneInfo(timezone or "UTC"))
    clock = local.time().replace(tzinfo=None)
    today = local.weekday()
    yesterday = (local - timedelta(days=1)).weekday()
    for window in windows.weekly[today]:
        if window.start < window.end:
            if window.start <= clock < window.end:
                return True
        elif window.end < window.start and clock >= window.start:
            return True  # the evening part of a window that wraps past midnight
    for window in windows.weekly[yesterday]:
        if window.end < window.start and clock < window.end:
            return True  # the morning part of yesterday's wrapping window
    return False


def _local_instants(day, at: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Both readings of a wall-clock time, as UTC instants (they differ only around a DST change;
    compared in their own zone, Python would ignore the fold)."""
    naive = datetime.combine(day, at)
    return (naive.replace(tzinfo=zone, fold=0).astimezone(UTC), naive.replace(tzinfo=zone, fold=1).astimezone(UTC))


def next_start(windows: PauseWindows, timezone: str, now: datetime, horizon_days: int = 8) -> datetime | None:
    """The first instant after `now` at which a window begins, or None within the horizon.

    Used as a deadline: it may be early (a wall-clock start inside a DST gap is taken at its
    earlier reading) but never late.
    """
    starts = [w.start for w in windows.advanced if w.start > now]
    if any(windows.weekly):
        zone = ZoneInfo(timezone or "UTC")
        today = now.astimezone(zone).date()
        for offset in range(-1, horizon_days):
            day = today + timedelta(days=offset)
            for window in windows.weekly[day.weekday()]:
                if window.start == window.end:
                    continue  # an empty window never begins
                for instant in _local_instants(day, window.start, zone):
                    if instant > now:
                        starts.append(instant)
    return min(starts, default=None)
