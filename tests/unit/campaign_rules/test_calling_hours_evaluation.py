"""Calling hours evaluated in the contact's local time: the presets, windows across midnight,
multi-zone contacts (every zone must allow), DST both ways, and next_opening exact (allowed, never
early, nothing allowed before it)."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as s

from campaign_rules.calling_hours import (
    CUSTOM,
    FR_2023,
    HORIZON,
    US_TCPA,
    CallingHours,
    Window,
    allowed,
    next_opening,
)
from campaign_rules.contact_zones import zones_for
from campaign_rules.pause_windows import WEEKDAYS

NY, LA, PARIS = "America/New_York", "America/Los_Angeles", "Europe/Paris"
US = CallingHours(US_TCPA)
FR = CallingHours(FR_2023)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time of `zone` as a UTC instant."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def custom(day: str, start: tuple[int, int], end: tuple[int, int]) -> CallingHours:
    return CallingHours(CUSTOM, {day: (Window(time(*start), time(*end)),)})


# --- the presets ----------------------------------------------------------------------------------

def test_us_tcpa_is_eight_to_nine_local_every_day():
    for day in range(20, 27):  # 2025-12-20 is a Saturday: one of each weekday
        assert not allowed(US, [NY], local(NY, 2025, 12, day, 7, 59))
        assert allowed(US, [NY], local(NY, 2025, 12, day, 8, 0))
        assert allowed(US, [NY], local(NY, 2025, 12, day, 20, 59, 59))
        assert not allowed(US, [NY], local(NY, 2025, 12, day, 21, 0))


def test_fr_2023_weekdays_with_a_lunch_break_and_no_weekend():
    monday = (2025, 12, 22)
    assert not allowed(FR, [PARIS], local(PARIS, *monday, 9, 59))
    assert allowed(FR, [PARIS], local(PARIS, *monday, 10, 0))
    assert allowed(FR, [PARIS], local(PARIS, *monday, 12, 59))
    assert not allowed(FR, [PARIS], local(PARIS, *monday, 13, 0))
    assert not allowed(FR, [PARIS], local(PARIS, *monday, 13, 59))
    assert allowed(FR, [PARIS], local(PARIS, *monday, 14, 0))
    assert not allowed(FR, [PARIS], local(PARIS, *monday, 20, 0))
    # Saturday 13:00 UTC: the whole weekend waits for Monday 10:00 Paris.
    assert next_opening(FR, [PARIS], utc(2025, 12, 20, 13, 0)) == local(PARIS, *monday, 10, 0)
    assert next_opening(FR, [PARIS], local(PARIS, *monday, 13, 0)) == local(PARIS, *monday, 14, 0)


instants = s.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=s.just(UTC))
zone_names = s.sampled_from([NY, LA, PARIS, "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns", "UTC",
                             "Pacific/Chatham", "Africa/Casablanca"])


@given(instants)
def test_fr_2023_is_exactly_its_rule_in_paris(at):
    clock = at.astimezone(ZoneInfo(PARIS))
    expected = clock.weekday() < 5 and (10 <= clock.hour < 13 or 14 <= clock.hour < 20)
    assert allowed(FR, [PARIS], at) == expected


@given(instants, zone_names)
def test_us_tcpa_is_exactly_its_rule_in_any_zone(at, zone):
    assert allowed(US, [zone], at) == (8 <= at.astimezone(ZoneInfo(zone)).hour < 21)


# --- windows across midnight ----------------------------------------------------------------------

def test_a_window_wrapping_past_midnight_belongs_to_its_start_day():
    hours = custom("friday", (20, 0), (2, 0))
    assert not allowed(hours, [PARIS], local(PARIS, 2025, 12, 26, 19, 59))  # Friday evening
    assert allowed(hours, [PARIS], local(PARIS, 2025, 12, 26, 23, 30))
    assert allowed(hours, [PARIS], local(PARIS, 2025, 12, 27, 1, 59))  # Saturday morning
    assert not allowed(hours, [PARIS], local(PARIS, 2025, 12, 27, 2, 0))
    assert not allowed(hours, [PARIS], local(PARIS, 2025, 12, 27, 21, 0))  # Saturday has none
    assert not allowed(hours, [PARIS], local(PARIS, 2025, 12, 26, 1, 0))  # Thursday's night is not Friday's
    assert next_opening(hours, [PARIS], local(PARIS, 2025, 12, 27, 2, 0)) == local(PARIS, 2026, 1, 2, 20, 0)


def test_sunday_wraps_into_monday():
    hours = custom("sunday", (22, 0), (6, 0))
    assert allowed(hours, [NY], local(NY, 2025, 12, 22, 5, 59))  # Monday
    assert not allowed(hours, [NY], local(NY, 2025, 12, 22, 6, 0))
    assert next_opening(hours, [NY], local(NY, 2025, 12, 22, 6, 0)) == local(NY, 2025, 12, 28, 22, 0)


# --- several zones --------------------------------------------------------------------------------

def test_a_call_is_allowed_only_where_every_zone_allows_it():
    both = [NY, LA]
    # Winter: New York 08:00-21:00 is 13:00-02:00 UTC, Los Angeles 16:00-05:00 UTC.
    assert not allowed(US, both, utc(2025, 12, 22, 15, 59))
    assert allowed(US, [NY], utc(2025, 12, 22, 15, 59))
    assert allowed(US, both, utc(2025, 12, 22, 16, 0))
    assert allowed(US, both, utc(2025, 12, 23, 1, 59))
    assert not allowed(US, both, utc(2025, 12, 23, 2, 0))
    assert allowed(US, [LA], utc(2025, 12, 23, 2, 0))
    assert next_opening(US, both, utc(2025, 12, 23, 2, 0)) == utc(2025, 12, 23, 16, 0)


def test_a_number_spanning_many_zones_waits_for_their_common_hours():
    zones = zones_for("+18005550123", None, "UTC")  # toll-free: every US zone and more
    assert NY in zones and LA in zones and "Pacific/Honolulu" in zones
    opening = next_opening(US, zones, utc(2025, 12, 22, 12, 0))
    assert opening is not None and allowed(US, zones, opening)
    for zone in zones:
        assert 8 <= opening.astimezone(ZoneInfo(zone)).hour < 21
    assert not allowed(US, zones, opening - timedelta(seconds=1))


def test_zones_that_never_share_a_window_have_no_opening():
    hours = custom("monday", (9, 0), (9, 30))  # Monday 09:00 in Tokyo is Sunday evening in New York
    assert next_opening(hours, [NY, "Asia/Tokyo"], utc(2025, 12, 20)) is None
    assert next_opening(hours, [NY], utc(2025, 12, 20)) == local(NY, 2025, 12, 22, 9, 0)


# --- DST ------------------------------------------------------------------------------------------

def test_spring_forward_start_that_does_not_exist_opens_at_the_jump():
    # New York, 2025-03-09: 02:00 EST jumps to 03:00 EDT (07:00 UTC); 02:30 does not exist.
    hours = custom("sunday", (2, 30), (5, 0))
    assert next_opening(hours, [NY], local(NY, 2025, 3, 8, 23, 0)) == utc(2025, 3, 9, 7, 0)
    assert not allowed(hours, [NY], utc(2025, 3, 9, 6, 59, 59))
    assert allowed(hours, [NY], utc(2025, 3, 9, 7, 0))
    # Paris, 2025-03-30: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    paris = custom("sunday", (2, 15), (4, 0))
    assert next_opening(paris, [PARIS], utc(2025, 3, 29, 12, 0)) == utc(2025, 3, 30, 1, 0)


def test_spring_forward_moves_the_presets_to_the_new_offset():
    assert next_opening(US, [NY], utc(2025, 3, 9, 5, 0)) == utc(2025, 3, 9, 12, 0)  # 08:00 EDT
    assert next_opening(US, [NY], utc(2025, 3, 8, 5, 0)) == utc(2025, 3, 8, 13, 0)  # 08:00 EST


def test_fall_back_start_in_the_repeated_hour_opens_at_its_first_occurrence():
    # New York, 2025-11-02: 02:00 EDT falls back to 01:00 EST (06:00 UTC); 01:30 happens twice.
    hours = custom("sunday", (1, 30), (4, 0))
    assert next_opening(hours, [NY], local(NY, 2025, 11, 2, 0, 0)) == utc(2025, 11, 2, 5, 30)  # 01:30 EDT
    # Paris, 2025-10-26: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:30 happens twice.
    paris = custom("sunday", (2, 30), (5, 0))
    assert next_opening(paris, [PARIS], utc(2025, 10, 25, 22, 0)) == utc(2025, 10, 26, 0, 30)  # 02:30 CEST
    assert next_opening(US, [NY], utc(2025, 11, 2, 5, 0)) == utc(2025, 11, 2, 13, 0)  # 08:00 EST


def test_fall_back_reopens_a_window_covering_the_repeated_hour():
    hours = custom("sunday", (0, 0), (1, 30))
    assert allowed(hours, [NY], local(NY, 2025, 11, 2, 1, 15, fold=0))  # 05:15 UTC, EDT
    assert not allowed(hours, [NY], utc(2025, 11, 2, 5, 45))  # 01:45 EDT
    assert next_opening(hours, [NY], utc(2025, 11, 2, 5, 45)) == utc(2025, 11, 2, 6, 0)  # back to 01:00 EST
    assert allowed(hours, [NY], local(NY, 2025, 11, 2, 1, 15, fold=1))


def test_at_must_be_aware_and_zones_given():
    with pytest.raises(ValueError, match="aware"):
        allowed(US, [NY], datetime(2025, 12, 22, 12, 0))
    with pytest.raises(ValueError, match="zone"):
        next_opening(US, [], utc(2025, 12, 22))


# --- properties of next_opening -------------------------------------------------------------------

times = s.builds(time, s.integers(0, 23), s.sampled_from([0, 15, 30, 45]))
windows = s.builds(Window, times, times).filter(lambda w: w.start != w.end)
custom_weeks = s.dictionaries(s.sampled_from(WEEKDAYS), s.lists(windows, min_size=1, max_size=2),
                              min_size=1, max_size=7).map(lambda week: CallingHours(CUSTOM, week))
calling_hours = s.one_of(s.just(US), s.just(FR), custom_weeks)
# Around the DST changes of New York and Paris, and anywhere else.
dst_days = s.sampled_from([datetime(2025, 3, 8), datetime(2025, 3, 29), datetime(2025, 10, 25),
                           datetime(2025, 11, 1), datetime(2026, 3, 7), datetime(2026, 10, 24)])
near_dst = s.builds(lambda day, minutes: (day + timedelta(minutes=minutes)).replace(tzinfo=UTC),
                    dst_days, s.integers(0, 3 * 24 * 60))
moments = s.one_of(near_dst, instants)
zone_sets = s.lists(zone_names, min_size=1, max_size=3)


@settings(max_examples=80, deadline=None)
@given(calling_hours, zone_sets, moments)
@example(custom("sunday", (2, 30), (5, 0)), [NY], utc(2025, 3, 9, 4, 0))
@example(custom("sunday", (0, 0), (1, 30)), [NY], utc(2025, 11, 2, 5, 45))
@example(US, [NY, LA, PARIS], utc(2025, 3, 29, 0, 0))
def test_next_opening_is_the_first_allowed_instant(hours, zones, at):
    opening = next_opening(hours, zones, at)
    end = at + HORIZON if opening is None else opening
    if opening is not None:
        assert opening >= at and opening - at <= HORIZON
        assert opening.tzinfo is not None and opening.utcoffset() == timedelta(0)
        assert allowed(hours, zones, opening)
        if opening > at:
            assert not allowed(hours, zones, opening - timedelta(seconds=1))
    probe = at
    while probe < end:
        assert not allowed(hours, zones, probe), probe
        probe += timedelta(minutes=1)


@given(calling_hours, zone_sets, moments)
def test_allowed_means_open_now(hours, zones, at):
    if allowed(hours, zones, at):
        assert next_opening(hours, zones, at) == at


@given(calling_hours, zone_sets, moments)
def test_several_zones_allow_what_each_allows(hours, zones, at):
    assert allowed(hours, zones, at) == all(allowed(hours, [zone], at) for zone in zones)
