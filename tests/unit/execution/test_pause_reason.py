"""Why an execution is not calling: pause reasons from the status, pause windows' ends."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from campaign_rules.auto_pause import CounterView
from campaign_rules.pause_windows import AbsoluteWindow, PauseWindows, WeeklyWindow
from services.execution.domain import status as st
from services.execution.domain.pause_reason import PauseReason, pause_reason, pause_window_end

MONDAY_NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # a Monday


def weekly(day: int, start: time, end: time) -> PauseWindows:
    days: list[tuple[WeeklyWindow, ...]] = [() for _ in range(7)]
    days[day] = (WeeklyWindow(start, end),)
    return PauseWindows(weekly=tuple(days))


def test_reason_follows_the_status():
    counters = [CounterView("menu", 1, 5), CounterView("bye", 7, 3)]
    assert pause_reason(st.PAUSED, counters) == PauseReason("manual")
    assert pause_reason(st.PAUSED_NO_CREDITS, None) == PauseReason("credits")
    assert pause_reason(st.PAUSED_THRESHOLD, counters) == PauseReason("threshold", CounterView("bye", 7, 3))
    assert pause_reason(st.PAUSED_THRESHOLD, None) == PauseReason("threshold")  # counters unread
    for status in (st.SCHEDULED, st.RUNNING, *st.TERMINAL):
        assert pause_reason(status, counters) is None


def test_absolute_window_end_and_windows_that_run_into_each_other():
    first = AbsoluteWindow(MONDAY_NOON - timedelta(hours=1), MONDAY_NOON + timedelta(hours=1))
    second = AbsoluteWindow(MONDAY_NOON + timedelta(hours=1), MONDAY_NOON + timedelta(hours=3))
    assert pause_window_end(PauseWindows(advanced=(first,)), "UTC", MONDAY_NOON) == first.end
    assert pause_window_end(PauseWindows(advanced=(first, second)), "UTC", MONDAY_NOON) == second.end
    assert pause_window_end(PauseWindows(advanced=(second,)), "UTC", MONDAY_NOON) is None
    assert pause_window_end(None, "UTC", MONDAY_NOON) is None


def test_weekly_window_in_its_zone_and_past_midnight():
    # 11:00-14:00 in Casablanca (UTC+1 in December) on Mondays: ends 13:00 UTC.
    windows = weekly(0, time(11, 0), time(14, 0))
    assert pause_window_end(windows, "Africa/Casablanca", MONDAY_NOON) == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    assert pause_window_end(windows, "Africa/Casablanca", MONDAY_NOON + timedelta(hours=2)) is None
    overnight = weekly(0, time(22, 0), time(6, 0))  # Monday 22:00 to Tuesday 06:00
    late = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)
    early = datetime(2026, 12, 8, 5, 0, tzinfo=UTC)
    assert pause_window_end(overnight, "UTC", late) == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
    assert pause_window_end(overnight, "UTC", early) == datetime(2026, 12, 8, 6, 0, tzinfo=UTC)
