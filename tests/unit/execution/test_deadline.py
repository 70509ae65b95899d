"""The dial deadline and the next pause window's start: a request never outlives a window's
start, stopAt or its time to live; the next start is never late (early only around a DST gap)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as s

from services.execution.domain.deadline import dial_deadline
from services.execution.domain.pause_windows import WEEKDAYS, PauseWindows, is_paused, next_start

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)  # a Monday


def weekly(day: str, start: tuple[int, int], end: tuple[int, int]) -> PauseWindows:
    return PauseWindows.from_dict({day: [{"startAt": {"hour": start[0], "minute": start[1]},
                                          "endAt": {"hour": end[0], "minute": end[1]}}]})


def test_deadline_is_the_earliest_of_ttl_window_and_stop():
    ttl = timedelta(seconds=30)
    assert dial_deadline(NOW, ttl, None, None) == NOW + ttl
    assert dial_deadline(NOW, ttl, NOW + timedelta(seconds=10), None) == NOW + timedelta(seconds=10)
    assert dial_deadline(NOW, ttl, NOW + timedelta(hours=1), NOW + timedelta(seconds=5)) == NOW + timedelta(seconds=5)


def test_next_start_same_day_and_next_week():
    windows = weekly("monday", (12, 0), (14, 0))
    assert next_start(windows, "UTC", NOW) == datetime(2025, 12, 22, 12, 0, tzinfo=UTC)
    # Inside or after today's window: next Monday's.
    assert next_start(windows, "UTC", NOW.replace(hour=13)) == datetime(2025, 12, 29, 12, 0, tzinfo=UTC)


def test_next_start_in_the_program_time_zone_and_advanced():
    windows = weekly("monday", (12, 0), (14, 0))
    # Noon in Casablanca (UTC+1) is 11:00 UTC.
    assert next_start(windows, "Africa/Casablanca", NOW) == datetime(2025, 12, 22, 11, 0, tzinfo=UTC)
    advanced = PauseWindows.from_dict({"advanced": [{"startAt": "2025-12-22T10:30:00.000Z",
                                                     "endAt": "2025-12-22T11:00:00.000Z"}]})
    assert next_start(advanced, "UTC", NOW) == datetime(2025, 12, 22, 10, 30, tzinfo=UTC)
    assert next_start(PauseWindows.empty(), "UTC", NOW) is None


def test_a_start_inside_a_dst_gap_is_taken_early_never_late():
    # New York springs forward on 2026-03-08: 02:30 local does not exist; the window is paused
    # from 03:00 EDT (07:00 UTC). The deadline must not be later than that.
    windows = weekly("sunday", (2, 30), (5, 0))
    start = next_start(windows, "America/New_York", datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert start is not None and start <= datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


zones = s.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Africa/Casablanca", "Asia/Kolkata"])
times = s.tuples(s.integers(0, 23), s.sampled_from([0, 15, 30, 45]))


@settings(max_examples=150, deadline=None)
@given(day=s.sampled_from(WEEKDAYS), start=times, end=times, zone=zones,
       offset_minutes=s.integers(0, 8 * 24 * 60))
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
    if found is not None:
        # And a window does begin there (within the hour a DST gap may skip).
        assert any(is_paused(windows, zone, found + timedelta(minutes=m)) for m in (0, 15, 30, 45, 60)), found
