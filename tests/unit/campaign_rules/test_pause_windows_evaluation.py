"""Pause windows evaluated: wall-clock weekly windows in the program's zone (wrapping past
midnight, DST), absolute advanced windows, and the next window's start never late."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as s

from campaign_rules.pause_windows import WEEKDAYS, PauseWindows, from_json, is_paused, next_start

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)  # a Monday


def weekly(day: str, start: tuple[int, int], end: tuple[int, int]) -> PauseWindows:
    return from_json({day: [{"startAt": {"hour": start[0], "minute": start[1]},
                             "endAt": {"hour": end[0], "minute": end[1]}}]})


def at(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def test_lunch_break_on_monday_only():
    windows = weekly("monday", (12, 0), (14, 0))
    assert is_paused(windows, "UTC", datetime(2025, 12, 22, 12, 0, tzinfo=UTC))  # a Monday
    assert is_paused(windows, "UTC", datetime(2025, 12, 22, 13, 59, tzinfo=UTC))
    assert not is_paused(windows, "UTC", datetime(2025, 12, 22, 14, 0, tzinfo=UTC))
    assert not is_paused(windows, "UTC", datetime(2025, 12, 22, 11, 59, tzinfo=UTC))
    assert not is_paused(windows, "UTC", datetime(2025, 12, 23, 12, 30, tzinfo=UTC))  # Tuesday


def test_window_in_program_timezone():
    windows = weekly("monday", (12, 0), (14, 0))
    # 12:30 in Casablanca (UTC+1) is 11:30 UTC.
    assert is_paused(windows, "Africa/Casablanca", at("Africa/Casablanca", 2025, 12, 22, 12, 30))
    assert not is_paused(windows, "Africa/Casablanca", datetime(2025, 12, 22, 12, 30, tzinfo=UTC)
                         + timedelta(hours=1, minutes=30))


def test_window_wrapping_past_midnight_covers_next_morning():
    windows = weekly("friday", (22, 0), (6, 0))
    assert is_paused(windows, "UTC", datetime(2025, 12, 26, 23, 0, tzinfo=UTC))  # Friday night
    assert is_paused(windows, "UTC", datetime(2025, 12, 27, 5, 59, tzinfo=UTC))  # Saturday morning
    assert not is_paused(windows, "UTC", datetime(2025, 12, 27, 6, 0, tzinfo=UTC))
    assert not is_paused(windows, "UTC", datetime(2025, 12, 26, 5, 0, tzinfo=UTC))  # Friday morning
    assert not is_paused(windows, "UTC", datetime(2025, 12, 27, 23, 0, tzinfo=UTC))  # Saturday night


def test_sunday_wrap_reaches_monday():
    windows = weekly("sunday", (20, 0), (8, 0))
    assert is_paused(windows, "UTC", datetime(2025, 12, 22, 7, 0, tzinfo=UTC))  # Monday 07:00
    assert not is_paused(windows, "UTC", datetime(2025, 12, 22, 9, 0, tzinfo=UTC))


def test_equal_start_and_end_is_empty():
    windows = weekly("monday", (9, 0), (9, 0))
    assert not is_paused(windows, "UTC", datetime(2025, 12, 22, 9, 0, tzinfo=UTC))


def test_advanced_windows_are_absolute():
    windows = from_json({"advanced": [{"startAt": "2025-12-25T00:00:00Z", "endAt": "2025-12-26T00:00:00Z"}]})
    assert is_paused(windows, "America/New_York", datetime(2025, 12, 25, 0, 0, tzinfo=UTC))
    assert is_paused(windows, "America/New_York", datetime(2025, 12, 25, 23, 59, tzinfo=UTC))
    assert not is_paused(windows, "America/New_York", datetime(2025, 12, 26, 0, 0, tzinfo=UTC))
    assert not is_paused(windows, "America/New_York", datetime(2025, 12, 24, 23, 59, tzinfo=UTC))


def test_no_windows_never_pause():
    assert not is_paused(from_json(None), "UTC", datetime(2025, 1, 1, tzinfo=UTC))
    assert from_json({}) == from_json(None) == PauseWindows()


def test_paris_spring_forward_window_follows_the_wall_clock():
    # 2025-03-30: Paris jumps from 02:00 to 03:00 (UTC+1 → UTC+2). A 09:00-10:00 window
    # that Sunday is 07:00-08:00 UTC, the Sunday before it was 08:00-09:00 UTC.
    windows = weekly("sunday", (9, 0), (10, 0))
    assert is_paused(windows, "Europe/Paris", datetime(2025, 3, 30, 7, 30, tzinfo=UTC))
    assert not is_paused(windows, "Europe/Paris", datetime(2025, 3, 30, 8, 30, tzinfo=UTC))
    assert is_paused(windows, "Europe/Paris", datetime(2025, 3, 23, 8, 30, tzinfo=UTC))


def test_new_york_fall_back_repeated_hour_is_inside_both_times():
    # 2025-11-02: 01:00-02:00 happens twice in New York (EDT then EST).
    windows = weekly("sunday", (1, 0), (2, 0))
    assert is_paused(windows, "America/New_York", datetime(2025, 11, 2, 5, 30, tzinfo=UTC))  # 01:30 EDT
    assert is_paused(windows, "America/New_York", datetime(2025, 11, 2, 6, 30, tzinfo=UTC))  # 01:30 EST
    assert not is_paused(windows, "America/New_York", datetime(2025, 11, 2, 7, 30, tzinfo=UTC))  # 02:30 EST


def test_window_across_spring_forward_gap():
    # 01:00-04:00 in Paris on 2025-03-30 lasts two real hours (02:00-03:00 does not exist).
    windows = weekly("sunday", (1, 0), (4, 0))
    assert is_paused(windows, "Europe/Paris", datetime(2025, 3, 30, 0, 0, tzinfo=UTC))  # 01:00 CET
    assert is_paused(windows, "Europe/Paris", datetime(2025, 3, 30, 1, 59, tzinfo=UTC))  # 03:59 CEST
    assert not is_paused(windows, "Europe/Paris", datetime(2025, 3, 30, 2, 0, tzinfo=UTC))  # 04:00 CEST


zones = s.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Africa/Casablanca", "Asia/Tokyo",
                        "Australia/Sydney"])
instants = s.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC))
times = s.tuples(s.integers(0, 23), s.integers(0, 59))


def local_minutes(now: datetime, tz: str) -> tuple[int, int]:
    local = now.astimezone(ZoneInfo(tz))
    return local.weekday(), local.hour * 60 + local.minute


@given(zones, instants, s.sampled_from(WEEKDAYS), times, times)
def test_weekly_window_matches_the_local_wall_clock(tz, now, day, start, end):
    windows = weekly(day, start, end)
    weekday, minute = local_minutes(now, tz)
    d = WEEKDAYS.index(day)
    s_min, e_min = start[0] * 60 + start[1], end[0] * 60 + end[1]
    if s_min < e_min:
        expected = weekday == d and s_min <= minute < e_min
    elif e_min < s_min:
        expected = (weekday == d and minute >= s_min) or (weekday == (d + 1) % 7 and minute < e_min)
    else:
        expected = False
    assert is_paused(windows, tz, now) is expected


@given(zones, instants, times)
def test_a_window_on_every_day_covering_the_whole_day_always_pauses(tz, now, start):
    item = [{"startAt": {"hour": start[0], "minute": start[1]},
             "endAt": {"hour": start[0], "minute": start[1]}}]
    # start == end is empty; add a wrap window ending where it starts to cover all day.
    full = [{"startAt": {"hour": 0, "minute": 0}, "endAt": {"hour": 23, "minute": 59}},
            {"startAt": {"hour": 23, "minute": 59}, "endAt": {"hour": 0, "minute": 0}}]
    windows = from_json({day: full + item for day in WEEKDAYS})
    assert is_paused(windows, tz, now)


@given(instants, s.integers(1, 10_000), s.integers(-20_000, 20_000))
def test_advanced_window_is_half_open(start, minutes, offset):
    end = start + timedelta(minutes=minutes)
    windows = from_json({"advanced": [{"startAt": start.isoformat(), "endAt": end.isoformat()}]})
    probe = start + timedelta(minutes=offset)
    assert is_paused(windows, "UTC", probe) is (start <= probe < end)


def test_time_parsing_defaults():
    windows = from_json({"tuesday": [{"startAt": {"hour": 9}, "endAt": {"hour": 10}}]})
    assert windows.weekly[1][0].start == time(9, 0)
    assert windows.on("tuesday") == windows.weekly[1]


# --- the next window's start --------------------------------------------------------------------

def test_next_start_same_day_and_next_week():
    windows = weekly("monday", (12, 0), (14, 0))
    assert next_start(windows, "UTC", NOW) == datetime(2025, 12, 22, 12, 0, tzinfo=UTC)
    # Inside or after today's window: next Monday's.
    assert next_start(windows, "UTC", NOW.replace(hour=13)) == datetime(2025, 12, 29, 12, 0, tzinfo=UTC)


def test_next_start_in_the_program_time_zone_and_advanced():
    windows = weekly("monday", (12, 0), (14, 0))
    # Noon in Casablanca (UTC+1) is 11:00 UTC.
    assert next_start(windows, "Africa/Casablanca", NOW) == datetime(2025, 12, 22, 11, 0, tzinfo=UTC)
    advanced = from_json({"advanced": [{"startAt": "2025-12-22T10:30:00.000Z", "endAt": "2025-12-22T11:00:00.000Z"}]})
    assert next_start(advanced, "UTC", NOW) == datetime(2025, 12, 22, 10, 30, tzinfo=UTC)
    assert next_start(PauseWindows(), "UTC", NOW) is None


def test_a_start_inside_a_dst_gap_is_taken_early_never_late():
    # New York springs forward on 2026-03-08: 02:30 local does not exist; the window is paused
    # from 03:00 EDT (07:00 UTC). The deadline must not be later than that.
    windows = weekly("sunday", (2, 30), (5, 0))
    start = next_start(windows, "America/New_York", datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert start is not None and start <= datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


quarter_times = s.tuples(s.integers(0, 23), s.sampled_from([0, 15, 30, 45]))


@settings(max_examples=150, deadline=None)
@given(day=s.sampled_from(WEEKDAYS), start=quarter_times, end=quarter_times,
       zone=s.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Africa/Casablanca", "Asia/Kolkata"]),
       offset_minutes=s.integers(0, 8 * 24 * 60))
# A window wholly inside New York's spring-forward gap (2026-03-08): it never pauses that day.
@example(day="sunday", start=(2, 0), end=(3, 0), zone="America/New_York", offset_minutes=6 * 24 * 60)
def test_no_instant_before_next_start_is_inside_a_window(day, start, end, zone, offset_minutes):
    """Between now (outside every window) and next_start nothing is paused: the deadline is never late."""
    windows = weekly(day, start, end)
    now = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=offset_minutes)
    if is_paused(windows, zone, now):
        return
    found = next_start(windows, zone, now)
    horizon = found if found is not None else now + timedelta(days=7)
    probe = now
    while probe < horizon:
        assert not is_paused(windows, zone, probe), (probe, found)
        probe += timedelta(minutes=15)
    if found is not None and (found.astimezone(ZoneInfo(zone)).hour, found.astimezone(ZoneInfo(zone)).minute) == start:
        # And a window does begin there. A start inside a DST gap is taken at a reading that is
        # not its wall-clock time (early on purpose; the window may not exist that day at all).
        assert is_paused(windows, zone, found), found
