"""Calling hours: when a contact may be called, in the contact's own local time.

Pause windows say when the program must not call, in the program's zone; calling hours say when a
contact may be called at all, in the zone(s) of the called person. A contact whose number spans
several zones may be called only when every one of them allows it.

A program names a preset or gives its own windows (`custom`):

- `us_tcpa` — every day 08:00–21:00. The US Telephone Consumer Protection Act (47 CFR
  64.1200(c)(1)) forbids telephone solicitations before 8 a.m. and after 9 p.m. local time at the
  called party's location. Stricter state laws are not modelled.
- `fr_2023` — Monday to Friday 10:00–13:00 and 14:00–20:00, never on Saturday or Sunday. The
  French decree n° 2022-1313 (in force since 1 March 2023) allows canvassing calls only then, and
  not on public holidays; its limit of 4 calls per 30 days is the frequency cap's business.
- `custom` — the program's own allowed windows per weekday.

Public holidays are not modelled by any preset: a holiday is called like any other day of its
weekday (add a pause window for it).

A window is open while the local clock reads in [start, end). A window whose end is before its
start wraps past midnight and belongs to its start's weekday (Monday 20:00–02:00 runs into Tuesday
morning), like pause windows. Wall-clock semantics make DST simple: on a spring-forward day a
window whose start does not exist opens at the first instant after it (the clock jumps into the
window); on a fall-back day a start in the repeated hour opens at its first occurrence, and a window
covering the repeated hour is open both times.

Days are Monday first (Python's weekday()); weekday names are the API's ("monday" ...). The stored
form is the API's camelCase JSON: {"preset": "us_tcpa"} for a preset (its windows are the code's,
resolved when read), {"preset": "custom", "windows": {"monday": [{"startAt": {"hour", "minute"},
"endAt": {...}}], ...}} for custom, days without windows left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from campaign_rules.checks import fail, one_of
from campaign_rules.pause_windows import WEEKDAYS, WeeklyWindow, stored_time, weekly_window
from campaign_rules.proto import CallingHoursMessage, PauseWindowItemMessage, TimeOfDayMessage

FIELD = "callingHours"
US_TCPA = "us_tcpa"
FR_2023 = "fr_2023"
CUSTOM = "custom"
PRESETS = (US_TCPA, FR_2023, CUSTOM)

# How far next_opening looks ahead: two weeks hold every weekly window twice.
HORIZON = timedelta(days=14)


# Allowed from `start` to `end` local time; an end before the start wraps past midnight: the
# pause windows' weekly window, parsed and stored alike.
Window = WeeklyWindow


Week = Mapping[str, tuple[Window, ...]]

_US_DAY = (Window(time(8, 0), time(21, 0)),)
_FR_DAY = (Window(time(10, 0), time(13, 0)), Window(time(14, 0), time(20, 0)))
PRESET_WINDOWS: Mapping[str, Week] = MappingProxyType({
    US_TCPA: MappingProxyType({day: _US_DAY for day in WEEKDAYS}),
    FR_2023: MappingProxyType({day: _FR_DAY for day in WEEKDAYS[:5]}),
})


def _normal(windows: Week) -> dict[str, tuple[Window, ...]]:
    """Monday first, days without windows left out: one form for equal weeks."""
    for day in windows:
        if day not in WEEKDAYS:
            raise fail(f"{FIELD}.windows.{day}", f"unknown weekday (one of {', '.join(WEEKDAYS)})")
    return {day: tuple(windows[day]) for day in WEEKDAYS if windows.get(day)}


@dataclass(frozen=True)
class CallingHours:
    """A preset (its windows resolved) or custom windows: weekday name → allowed windows.

    Invariant: `windows` is Monday first, without empty days; a custom week holds at least one
    window; a preset's windows are the preset's. Built otherwise → ValidationError."""

    preset: str
    windows: Week = field(default_factory=dict)
    _by_weekday: tuple[tuple[Window, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        one_of(f"{FIELD}.preset", self.preset, PRESETS)
        week = _normal(self.windows)
        if self.preset == CUSTOM:
            if not week:
                raise fail(f"{FIELD}.windows", "must hold at least one window")
        else:
            fixed = dict(PRESET_WINDOWS[self.preset])
            if week and week != fixed:
                raise fail(f"{FIELD}.windows", f"must not be set for preset {self.preset} (its windows are fixed)")
            week = fixed
        object.__setattr__(self, "windows", MappingProxyType(week))
        # Index = weekday(): the hot path (claiming) looks a day up without hashing its name.
        object.__setattr__(self, "_by_weekday", tuple(week.get(day, ()) for day in WEEKDAYS))

    def __hash__(self) -> int:
        return hash((self.preset, tuple(self.windows.items())))

    def on(self, day: str) -> tuple[Window, ...]:
        """The windows of a day by name ("monday" ... "sunday"); () when it has none."""
        return self.windows.get(day, ())


# --- parsing and validation ---------------------------------------------------------------------

def from_proto(message: CallingHoursMessage) -> CallingHours:
    """The calling hours of a request, checked: the preset, then `windows` (required for custom,
    refused for a preset), then each window in the message's day order. Raises ValidationError
    naming the field."""
    name = one_of(f"{FIELD}.preset", message.preset, PRESETS)
    given = message.HasField("windows")
    if name != CUSTOM:
        if given:
            raise fail(f"{FIELD}.windows", f"must not be set for preset {name} (its windows are fixed)")
        return CallingHours(name)
    if not given:
        raise fail(f"{FIELD}.windows", "is required for preset custom")
    week: dict[str, tuple[Window, ...]] = {}
    for descriptor in message.windows.DESCRIPTOR.fields:
        day = descriptor.name
        items: list[PauseWindowItemMessage] = list(getattr(message.windows, day))
        week[day] = tuple(weekly_window(f"{FIELD}.windows.{day}[{i}]", item) for i, item in enumerate(items))
    return CallingHours(CUSTOM, week)


def to_proto(hours: CallingHours) -> CallingHoursMessage:
    out = CallingHoursMessage(preset=hours.preset)
    if hours.preset == CUSTOM:
        out.windows.SetInParent()
        for day, items in hours.windows.items():
            getattr(out.windows, day).extend(
                PauseWindowItemMessage(start_at=TimeOfDayMessage(hour=w.start.hour, minute=w.start.minute),
                                       end_at=TimeOfDayMessage(hour=w.end.hour, minute=w.end.minute))
                for w in items)
    return out


# --- the stored form ----------------------------------------------------------------------------

def from_json(data: Mapping[str, Any] | None) -> CallingHours | None:
    """From the stored form; None or {} is no calling hours. Fields at zero may be left out."""
    if not data:
        return None
    name = str(data.get("preset") or "")
    if name != CUSTOM:
        return CallingHours(name)
    week = {day: tuple(Window(stored_time(item.get("startAt")), stored_time(item.get("endAt"))) for item in items)
            for day, items in (data.get("windows") or {}).items()}
    return CallingHours(CUSTOM, week)


def to_json(hours: CallingHours) -> dict[str, Any]:
    """A preset by its name only; custom windows Monday first, as the API shows them."""
    if hours.preset != CUSTOM:
        return {"preset": hours.preset}
    return {"preset": CUSTOM, "windows": {
        day: [{"startAt": {"hour": w.start.hour, "minute": w.start.minute},
               "endAt": {"hour": w.end.hour, "minute": w.end.minute}} for w in items]
        for day, items in hours.windows.items()}}


# --- evaluation ---------------------------------------------------------------------------------

def _open_in(hours: CallingHours, zone: ZoneInfo, at: datetime) -> bool:
    local = at.astimezone(zone)
    clock = local.time()
    today = local.weekday()
    for window in hours._by_weekday[today]:
        if window.start < window.end:
            if window.start <= clock < window.end:
                return True
        elif window.end < window.start and clock >= window.start:
            return True  # the evening part of a window that wraps past midnight
    for window in hours._by_weekday[today - 1]:  # -1 is Sunday: Python indexes from the end
        if window.end < window.start and clock < window.end:
            return True  # the morning part of yesterday's wrapping window
    return False


def _zones(zones: Sequence[str]) -> tuple[ZoneInfo, ...]:
    if not zones:
        raise ValueError("zones must name at least one time zone")
    return tuple(ZoneInfo(name) for name in dict.fromkeys(zones))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    return at.astimezone(UTC)


def allowed(hours: CallingHours, zones: Sequence[str], at: datetime) -> bool:
    """True when `at` (an aware instant) is inside an allowed window in the local time of every
    zone of `zones` (IANA names, at least one)."""
    at = _aware(at)
    return all(_open_in(hours, zone, at) for zone in _zones(zones))


def _starts(hours: CallingHours, zone: ZoneInfo, first: date, last: date) -> Iterator[datetime]:
    """Every window start of the local days [first, last] as UTC instants, both readings of a
    wall-clock time (they differ only around a DST change)."""
    day = first
    while day <= last:
        for window in hours._by_weekday[day.weekday()]:
            naive = datetime.combine(day, window.start)
            yield naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
            yield naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
        day += timedelta(days=1)


# Offsets are sampled this often: no zone changes its offset twice within three hours.
_SAMPLE = 3 * 3600


@lru_cache(maxsize=4096)
def _transitions(name: str, first: date) -> tuple[datetime, ...]:
    """The instants at which zone `name` changes its UTC offset within the UTC days
    [first, first + HORIZON + 1 day], each the first second of the new offset (offsets change on
    whole seconds)."""
    zone = ZoneInfo(name)

    def offset(second: int) -> timedelta | None:
        return datetime.fromtimestamp(second, zone).utcoffset()

    out: list[datetime] = []
    low = int(datetime.combine(first, time(), UTC).timestamp())
    end = low + int((HORIZON + timedelta(days=1)).total_seconds())
    while low < end:
        high = low + _SAMPLE
        if offset(low) != offset(high):
            a, b = low, high  # offset(a) is the old one, offset(b) the new one
            while b - a > 1:
                mid = (a + b) // 2
                if offset(mid) == offset(a):
                    a = mid
                else:
                    b = mid
            out.append(datetime.fromtimestamp(b, UTC))
        low = high
    return tuple(out)


def next_opening(hours: CallingHours, zones: Sequence[str], at: datetime) -> datetime | None:
    """The earliest instant ≥ `at` (aware) at which `allowed` is true, in UTC; None when there is
    none within HORIZON (14 days), e.g. zones too far apart to share a window.

    The allowed instants of one zone form intervals closed at their start, which is either a
    window start or a DST jump into a window; their intersection over the zones opens at one of
    those instants too, so only they are tried, in order.
    """
    at = _aware(at)
    if allowed(hours, zones, at):
        return at
    limit = at + HORIZON
    candidates: set[datetime] = set()
    for name in dict.fromkeys(zones):
        zone = ZoneInfo(name)
        first = at.astimezone(zone).date() - timedelta(days=1)  # a day early: a DST change may move it
        candidates.update(_starts(hours, zone, first, limit.astimezone(zone).date()))
        candidates.update(_transitions(name, at.date()))
    for candidate in sorted(c for c in candidates if at < c <= limit):
        if allowed(hours, zones, candidate):
            return candidate
    return None
