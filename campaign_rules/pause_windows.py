"""Pause windows: when no call may start.

Weekly windows are wall-clock times in the program's time zone: a window is open while the
local clock reads in [start, end). A window whose end is before its start wraps past midnight
into the next day. Equal start and end is refused when a program is written (and an empty
window if ever read). Advanced windows are absolute instants [startAt, endAt), endAt after
startAt.

Wall-clock semantics make DST simple: on a spring-forward day the skipped local hour does not
exist, so nothing is inside it; on a fall-back day the repeated hour is inside a window
covering it both times.

Days are Monday first everywhere (Python's weekday()). The stored form is the API's camelCase
JSON: {"monday": [{"startAt": {"hour", "minute"}, "endAt": {...}}], ..., "advanced":
[{"startAt": iso, "endAt": iso}]}, days without windows left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from campaign_rules.checks import between, fail, instant, millis
from campaign_rules.proto import (
    PauseWindowAdvancedItemMessage,
    PauseWindowItemMessage,
    PauseWindowsMessage,
    TimeOfDayMessage,
)
from kernel.timefmt import iso, parse_iso

FIELD = "pauseWindows"
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


_NO_DAYS: tuple[tuple[WeeklyWindow, ...], ...] = tuple(() for _ in WEEKDAYS)


@dataclass(frozen=True)
class PauseWindows:
    weekly: tuple[tuple[WeeklyWindow, ...], ...] = _NO_DAYS  # index = weekday(), Monday first
    advanced: tuple[AbsoluteWindow, ...] = ()

    def __post_init__(self) -> None:
        if len(self.weekly) != len(WEEKDAYS):
            raise ValueError("weekly holds one entry per weekday, Monday first")

    def on(self, day: str) -> tuple[WeeklyWindow, ...]:
        """The windows of a day by name ("monday" ... "sunday")."""
        return self.weekly[WEEKDAYS.index(day)]


# --- parsing and validation ---------------------------------------------------------------------

def time_of_day(field: str, value: TimeOfDayMessage) -> time:
    """A time of day of a request (hour 0-23, minute 0-59), named by its API path when refused."""
    between(f"{field}.hour", value.hour, (0, 23))
    between(f"{field}.minute", value.minute, (0, 59))
    return time(value.hour, value.minute)


def weekly_window(field: str, item: PauseWindowItemMessage) -> WeeklyWindow:
    """A start-end window of a request; the end must differ from the start (before it: it wraps)."""
    start = time_of_day(f"{field}.startAt", item.start_at)
    end = time_of_day(f"{field}.endAt", item.end_at)
    if start == end:
        raise fail(f"{field}.endAt", "must differ from startAt")
    return WeeklyWindow(start, end)


def _absolute(field: str, item: PauseWindowAdvancedItemMessage) -> AbsoluteWindow:
    start = instant(f"{field}.startAt", item.start_at)
    end = instant(f"{field}.endAt", item.end_at)
    if end <= start:
        raise fail(f"{field}.endAt", "must be after startAt")
    return AbsoluteWindow(millis(start), millis(end))


def from_proto(message: PauseWindowsMessage) -> PauseWindows:
    """The windows of a request, checked; the first failure is the first in the message's field
    order (its days, then `advanced`). Raises ValidationError naming the field."""
    weekly: list[tuple[WeeklyWindow, ...]] = list(_NO_DAYS)
    for descriptor in message.DESCRIPTOR.fields:
        day = descriptor.name
        if day in WEEKDAYS:
            items: list[PauseWindowItemMessage] = list(getattr(message, day))
            weekly[WEEKDAYS.index(day)] = tuple(weekly_window(f"{FIELD}.{day}[{i}]", item) for i, item in enumerate(items))
    advanced = tuple(_absolute(f"{FIELD}.advanced[{i}]", item) for i, item in enumerate(message.advanced))
    return PauseWindows(tuple(weekly), advanced)


def to_proto(windows: PauseWindows) -> PauseWindowsMessage:
    out = PauseWindowsMessage()
    for day, items in zip(WEEKDAYS, windows.weekly, strict=True):
        getattr(out, day).extend(
            PauseWindowItemMessage(start_at=TimeOfDayMessage(hour=w.start.hour, minute=w.start.minute),
                                   end_at=TimeOfDayMessage(hour=w.end.hour, minute=w.end.minute))
            for w in items)
    out.advanced.extend(PauseWindowAdvancedItemMessage(start_at=iso(w.start), end_at=iso(w.end))
                        for w in windows.advanced)
    return out


# --- the stored form ----------------------------------------------------------------------------

def stored_time(value: Mapping[str, Any] | None) -> time:
    """A time of day in the stored form ({"hour", "minute"}, zeros left out by older rows)."""
    value = value or {}
    return time(int(value.get("hour", 0)), int(value.get("minute", 0)))


def from_json(data: Mapping[str, Any] | None) -> PauseWindows:
    """From the stored form; None or {} is no window. Reads rows written before this form was
    the only one too (fields at zero left out, as protobuf's JSON printer leaves them)."""
    if not data:
        return PauseWindows()
    weekly = tuple(
        tuple(WeeklyWindow(stored_time(item.get("startAt")), stored_time(item.get("endAt"))) for item in data.get(day) or ())
        for day in WEEKDAYS)
    advanced = tuple(
        AbsoluteWindow(parse_iso(item["startAt"]), parse_iso(item["endAt"]))
        for item in data.get("advanced") or () if item.get("startAt") and item.get("endAt"))
    return PauseWindows(weekly, advanced)


def to_json(windows: PauseWindows) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for day, items in zip(WEEKDAYS, windows.weekly, strict=True):
        if items:
            out[day] = [{"startAt": {"hour": w.start.hour, "minute": w.start.minute},
                         "endAt": {"hour": w.end.hour, "minute": w.end.minute}} for w in items]
    if windows.advanced:
        out["advanced"] = [{"startAt": iso(w.start), "endAt": iso(w.end)} for w in windows.advanced]
    return out


# --- evaluation ---------------------------------------------------------------------------------

def is_paused(windows: PauseWindows, timezone: str, now: datetime) -> bool:
    """True when `now` (an aware instant) falls inside any window."""
    for absolute in windows.advanced:
        if absolute.start <= now < absolute.end:
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


def _local_instants(day: date, at: time, zone: ZoneInfo) -> tuple[datetime, datetime]:
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
                for at in _local_instants(day, window.start, zone):
                    if at > now:
                        starts.append(at)
    return min(starts, default=None)
