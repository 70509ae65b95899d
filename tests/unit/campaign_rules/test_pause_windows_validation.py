"""Pause windows as a program writes them: weekly items in range and non-empty (wrapping
allowed), advanced windows ordered; every failure names its field."""

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from campaign_rules import pause_windows as pw
from campaign_rules.proto import PauseWindowAdvancedItemMessage as Advanced
from campaign_rules.proto import PauseWindowItemMessage as Item
from campaign_rules.proto import PauseWindowsMessage as Windows
from campaign_rules.proto import TimeOfDayMessage as TimeOfDay
from kernel.errors import ValidationError
from kernel.timefmt import iso

INT32 = (-(2**31), 2**31 - 1)
times = st.builds(TimeOfDay, hour=st.integers(0, 23), minute=st.integers(0, 59))
items = st.builds(Item, start_at=times, end_at=times).filter(
    lambda w: (w.start_at.hour, w.start_at.minute) != (w.end_at.hour, w.end_at.minute))
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
below = st.integers(INT32[0], -1)


def week(**days: list[Item]) -> Windows:
    return Windows(**days)


@given(st.dictionaries(st.sampled_from(pw.WEEKDAYS), st.lists(items, min_size=1, max_size=4)))
def test_valid_weekly_windows_round_trip(weekly):
    out = pw.from_proto(week(**weekly))
    for day, given_items in weekly.items():
        assert out.on(day) == tuple(pw.WeeklyWindow(time(w.start_at.hour, w.start_at.minute),
                                                    time(w.end_at.hour, w.end_at.minute)) for w in given_items)
    assert pw.from_json(pw.to_json(out)) == out
    assert pw.from_proto(pw.to_proto(out)) == out
    assert set(pw.to_json(out)) == set(weekly)


@given(st.sampled_from(pw.WEEKDAYS), times)
def test_equal_start_and_end_is_refused(day, t):
    with pytest.raises(ValidationError) as err:
        pw.from_proto(week(**{day: [Item(start_at=t, end_at=t)]}))
    assert err.value.field == f"pauseWindows.{day}[0].endAt"


def test_window_wrapping_past_midnight_is_allowed():
    item = Item(start_at=TimeOfDay(hour=22), end_at=TimeOfDay(hour=6, minute=30))
    assert pw.from_proto(week(friday=[item])).on("friday") == (pw.WeeklyWindow(time(22, 0), time(6, 30)),)


@given(st.sampled_from(pw.WEEKDAYS), st.sampled_from(["startAt", "endAt"]),
       st.one_of(below, st.integers(24, INT32[1])), st.integers(0, 59))
def test_hour_out_of_range_names_the_field(day, end, hour, minute):
    bad = TimeOfDay(hour=hour, minute=minute)
    ok = TimeOfDay(hour=12)
    item = Item(start_at=bad, end_at=ok) if end == "startAt" else Item(start_at=ok, end_at=bad)
    with pytest.raises(ValidationError) as err:
        pw.from_proto(week(**{day: [Item(start_at=ok, end_at=TimeOfDay(hour=13)), item]}))
    assert str(err.value) == f"pauseWindows.{day}[1].{end}.hour: must be between 0 and 23"


@given(st.integers(0, 23), st.one_of(below, st.integers(60, INT32[1])))
def test_minute_out_of_range(hour, minute):
    with pytest.raises(ValidationError, match=r"^pauseWindows\.monday\[0\]\.startAt\.minute: "):
        pw.from_proto(week(monday=[Item(start_at=TimeOfDay(hour=hour, minute=minute), end_at=TimeOfDay(hour=hour))]))


def test_the_first_failure_is_the_first_in_the_message():
    bad = Item(start_at=TimeOfDay(hour=25), end_at=TimeOfDay(hour=1))
    # The message declares sunday first, then monday ... saturday, then advanced.
    with pytest.raises(ValidationError, match=r"^pauseWindows\.sunday\[0\]"):
        pw.from_proto(week(monday=[bad], sunday=[bad]))
    reversed_window = Advanced(start_at="2025-12-26T00:00:00Z", end_at="2025-12-25T00:00:00Z")
    with pytest.raises(ValidationError, match=r"^pauseWindows\.saturday\[0\]"):
        pw.from_proto(Windows(saturday=[bad], advanced=[reversed_window]))


@given(instants, instants)
def test_advanced_window_must_end_after_it_starts(a, b):
    assume(a != b)
    start, end = min(a, b), max(a, b)
    ok = pw.from_proto(Windows(advanced=[Advanced(start_at=start.isoformat(), end_at=end.isoformat())]))
    assert [(iso(w.start), iso(w.end)) for w in ok.advanced] == [(iso(start), iso(end))]
    assume(iso(start) != iso(end))
    with pytest.raises(ValidationError, match=r"^pauseWindows\.advanced\[0\]\.endAt: must be after startAt$"):
        pw.from_proto(Windows(advanced=[Advanced(start_at=iso(end), end_at=iso(start))]))


def test_advanced_window_needs_iso_dates():
    with pytest.raises(ValidationError, match=r"^pauseWindows\.advanced\[0\]\.startAt: must be an ISO"):
        pw.from_proto(Windows(advanced=[Advanced(start_at="christmas", end_at="2026-01-01T00:00:00Z")]))
    with pytest.raises(ValidationError, match=r"^pauseWindows\.advanced\[0\]\.endAt: must be between 1900"):
        pw.from_proto(Windows(advanced=[Advanced(start_at="2026-01-01T00:00:00Z", end_at="3001-01-01T00:00:00Z")]))
    start = datetime(2025, 12, 25, tzinfo=UTC)
    out = pw.from_proto(Windows(advanced=[Advanced(start_at=iso(start), end_at=iso(start + timedelta(days=1)))]))
    assert pw.to_json(out) == {"advanced": [{"startAt": "2025-12-25T00:00:00.000Z",
                                             "endAt": "2025-12-26T00:00:00.000Z"}]}


def test_instants_are_kept_to_the_millisecond():
    out = pw.from_proto(Windows(advanced=[Advanced(start_at="2025-12-25T00:00:00.123456Z",
                                                   end_at="2025-12-26T00:00:00.999999Z")]))
    assert out.advanced[0].start == datetime(2025, 12, 25, 0, 0, 0, 123000, tzinfo=UTC)
    assert pw.from_json(pw.to_json(out)) == out


def test_no_window_is_an_empty_value():
    assert pw.from_proto(Windows()) == pw.PauseWindows()
    assert pw.to_json(pw.PauseWindows()) == {}
    with pytest.raises(ValueError):
        pw.PauseWindows(weekly=((),))
