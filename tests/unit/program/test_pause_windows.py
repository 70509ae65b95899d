"""Pause windows: weekly items in range and non-empty (wrapping allowed), advanced ordered."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from kernel.timefmt import iso
from services.program.domain.model import WEEKDAYS, AdvancedWindow, PauseWindows, TimeOfDay, WeeklyWindow
from services.program.domain.validation import check_pause_windows

times = st.builds(TimeOfDay, st.integers(0, 23), st.integers(0, 59))
windows = st.builds(WeeklyWindow, times, times).filter(lambda w: w.start_at != w.end_at)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))


@given(st.dictionaries(st.sampled_from(WEEKDAYS), st.lists(windows, max_size=4).map(tuple)))
def test_valid_weekly_windows_round_trip(weekly):
    out = check_pause_windows(PauseWindows(weekly=weekly))
    assert out == PauseWindows(weekly=weekly)
    assert PauseWindows.from_json(out.to_json()) == out
    assert set(out.to_json()) == set(weekly)


@given(st.sampled_from(WEEKDAYS), times)
def test_equal_start_and_end_is_refused(day, t):
    with pytest.raises(ValidationError) as err:
        check_pause_windows(PauseWindows(weekly={day: (WeeklyWindow(t, t),)}))
    assert err.value.field == f"pauseWindows.{day}[0].endAt"


def test_window_wrapping_past_midnight_is_allowed():
    item = WeeklyWindow(TimeOfDay(22, 0), TimeOfDay(6, 30))
    assert check_pause_windows(PauseWindows(weekly={"friday": (item,)})).weekly["friday"] == (item,)


@given(st.sampled_from(WEEKDAYS), st.sampled_from(["startAt", "endAt"]),
       st.one_of(st.integers(max_value=-1), st.integers(min_value=24)), st.integers(0, 59))
def test_hour_out_of_range_names_the_field(day, end, hour, minute):
    bad = TimeOfDay(hour, minute)
    ok = TimeOfDay(12, 0)
    item = WeeklyWindow(bad, ok) if end == "startAt" else WeeklyWindow(ok, bad)
    with pytest.raises(ValidationError) as err:
        check_pause_windows(PauseWindows(weekly={day: (WeeklyWindow(ok, TimeOfDay(13, 0)), item)}))
    assert str(err.value) == f"pauseWindows.{day}[1].{end}.hour: must be between 0 and 23"


@given(st.integers(0, 23), st.one_of(st.integers(max_value=-1), st.integers(min_value=60)))
def test_minute_out_of_range(hour, minute):
    with pytest.raises(ValidationError, match=r"^pauseWindows\.monday\[0\]\.startAt\.minute: "):
        check_pause_windows(PauseWindows(weekly={"monday": (WeeklyWindow(TimeOfDay(hour, minute),
                                                                            TimeOfDay(hour, 0)),)}))


@given(instants, instants)
def test_advanced_window_must_end_after_it_starts(a, b):
    assume(a != b)
    start, end = min(a, b), max(a, b)
    ok = check_pause_windows(PauseWindows(advanced=(AdvancedWindow(start.isoformat(), end.isoformat()),)))
    assert ok.advanced == (AdvancedWindow(iso(start), iso(end)),)
    assume(iso(start) != iso(end))
    with pytest.raises(ValidationError, match=r"^pauseWindows\.advanced\[0\]\.endAt: must be after startAt$"):
        check_pause_windows(PauseWindows(advanced=(AdvancedWindow(iso(end), iso(start)),)))


def test_advanced_window_needs_iso_dates_and_none_is_none():
    with pytest.raises(ValidationError, match=r"^pauseWindows\.advanced\[0\]\.startAt: must be an ISO"):
        check_pause_windows(PauseWindows(advanced=(AdvancedWindow("christmas", "2026-01-01T00:00:00Z"),)))
    assert check_pause_windows(None) is None
    start = datetime(2025, 12, 25, tzinfo=UTC)
    out = check_pause_windows(PauseWindows(advanced=(AdvancedWindow(iso(start), iso(start + timedelta(days=1))),)))
    assert out.to_json() == {"advanced": [{"startAt": "2025-12-25T00:00:00.000Z", "endAt": "2025-12-26T00:00:00.000Z"}]}
