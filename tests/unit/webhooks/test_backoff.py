"""The back-off schedule: doubling from the base, capped, jittered down by at most 25 %, each wait
longer than the last until the cap, and nothing after the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.webhooks.domain.backoff import RetryPolicy, delay, next_attempt, nominal_delay

POLICY = RetryPolicy(base_seconds=5, cap_seconds=3600, horizon_seconds=24 * 3600)
jitters = st.floats(min_value=0, max_value=1)


def test_the_nominal_schedule_doubles_then_caps():
    assert [nominal_delay(POLICY, n) for n in range(1, 12)] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert nominal_delay(POLICY, 1000) == 3600


@given(st.integers(min_value=1, max_value=10_000), jitters)
def test_a_wait_is_within_its_jitter_band(n, jitter):
    d = delay(POLICY, n, jitter)
    assert 0.75 * nominal_delay(POLICY, n) <= d <= nominal_delay(POLICY, n)


@given(st.floats(min_value=0.01, max_value=100), st.integers(min_value=1, max_value=40), jitters, jitters)
def test_until_the_cap_every_wait_is_longer_than_the_one_before(base, n, j1, j2):
    policy = RetryPolicy(base_seconds=base, cap_seconds=1e18, horizon_seconds=1e18)
    assert delay(policy, n + 1, j2) > delay(policy, n, j1)


@given(st.integers(min_value=1, max_value=60), jitters, st.floats(min_value=0, max_value=200_000))
def test_nothing_is_scheduled_after_the_horizon(n, jitter, elapsed):
    created = datetime(2026, 1, 1, tzinfo=UTC)
    now = created + timedelta(seconds=elapsed)
    due = next_attempt(POLICY, created, now, n, jitter)
    expected = now + timedelta(seconds=delay(POLICY, n, jitter))
    if expected > created + timedelta(seconds=POLICY.horizon_seconds):
        assert due is None
    else:
        assert due == expected


def test_a_day_of_failures_is_about_thirty_attempts():
    created = now = datetime(2026, 1, 1, tzinfo=UTC)
    attempts = 1
    while (due := next_attempt(POLICY, created, now, attempts, 1.0)) is not None:
        now, attempts = due, attempts + 1
    assert 25 <= attempts <= 35
    assert now <= created + timedelta(hours=24)
