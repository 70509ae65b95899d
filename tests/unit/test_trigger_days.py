"""Upcoming triggers per day: counted per local day of the program's zone, due ones today."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.routes.trigger_days import per_day

NOW = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)


def test_days_from_today_with_zero_days_included():
    instants = [NOW + timedelta(hours=1), NOW + timedelta(hours=2), NOW + timedelta(days=2)]
    assert per_day(instants, NOW, 4, ZoneInfo("UTC")) == [
        (date(2026, 3, 10), 1), (date(2026, 3, 11), 1), (date(2026, 3, 12), 1), (date(2026, 3, 13), 0)]


def test_a_trigger_already_due_counts_today_and_one_past_the_horizon_not_at_all():
    instants = [NOW - timedelta(days=3), NOW + timedelta(days=3)]
    assert per_day(instants, NOW, 2, ZoneInfo("UTC")) == [(date(2026, 3, 10), 1), (date(2026, 3, 11), 0)]


def test_days_are_those_of_the_program_time_zone():
    instants = [NOW + timedelta(hours=1)]  # 23:30 UTC on the 10th = 00:30 on the 11th in Paris (UTC+1)
    assert per_day(instants, NOW, 2, ZoneInfo("UTC")) == [(date(2026, 3, 10), 1), (date(2026, 3, 11), 0)]
    assert per_day(instants, NOW, 2, ZoneInfo("Europe/Paris")) == [(date(2026, 3, 10), 0), (date(2026, 3, 11), 1)]
