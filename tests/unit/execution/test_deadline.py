"""The dial deadline: a request never outlives the next pause window's start, stopAt or its time
to live. (When the next window starts is campaign_rules.pause_windows.next_start, tested there.)"""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from services.execution.domain.deadline import dial_deadline

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)  # a Monday
later = s.one_of(s.none(), s.integers(0, 10**6).map(lambda seconds: NOW + timedelta(seconds=seconds)))


def test_deadline_is_the_earliest_of_ttl_window_and_stop():
    ttl = timedelta(seconds=30)
    assert dial_deadline(NOW, ttl, None, None) == NOW + ttl
    assert dial_deadline(NOW, ttl, NOW + timedelta(seconds=10), None) == NOW + timedelta(seconds=10)
    assert dial_deadline(NOW, ttl, NOW + timedelta(hours=1), NOW + timedelta(seconds=5)) == NOW + timedelta(seconds=5)


@given(s.integers(1, 3600), later, later)
def test_deadline_is_never_after_any_bound(ttl_seconds, window_start, stop_at):
    ttl = timedelta(seconds=ttl_seconds)
    deadline = dial_deadline(NOW, ttl, window_start, stop_at)
    bounds = [NOW + ttl, *(b for b in (window_start, stop_at) if b is not None)]
    assert deadline == min(bounds)
