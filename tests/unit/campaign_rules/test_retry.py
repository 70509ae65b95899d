"""Retry strategies: bounds of fixed_delay, ordering of scheduled dates, normalisation, and when
the next attempt is due (never more attempts than allowed, never early)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as s

from campaign_rules import retry
from campaign_rules.proto import RetryStrategyMessage as Message
from campaign_rules.retry import RetryStrategy, next_attempt_at
from kernel.errors import ValidationError
from kernel.timefmt import iso

INT32 = (-(2**31), 2**31 - 1)
NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
instants = s.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=s.just(UTC))


# --- validation ---------------------------------------------------------------------------------

@given(s.integers(1, 10080), s.integers(0, 20))
def test_fixed_delay_in_bounds_is_kept(delay, retries):
    out = retry.from_proto(Message(type="fixed_delay", delay_minutes=delay, max_retries=retries))
    assert out == RetryStrategy("fixed_delay", delay, retries)
    assert retry.to_json(out) == {"type": "fixed_delay", "delayMinutes": delay, "maxRetries": retries}


@given(s.one_of(s.integers(INT32[0], 0), s.integers(10081, INT32[1])), s.integers(0, 20))
def test_fixed_delay_out_of_bounds_names_delay(delay, retries):
    with pytest.raises(ValidationError) as err:
        retry.from_proto(Message(type="fixed_delay", delay_minutes=delay, max_retries=retries))
    assert str(err.value) == "retryStrategy.delayMinutes: must be between 1 and 10080"
    assert err.value.field == "retryStrategy.delayMinutes"


@given(s.integers(1, 10080), s.one_of(s.integers(INT32[0], -1), s.integers(21, INT32[1])))
def test_fixed_delay_retries_out_of_bounds(delay, retries):
    with pytest.raises(ValidationError, match=r"^retryStrategy\.maxRetries: must be between 0 and 20$"):
        retry.from_proto(Message(type="fixed_delay", delay_minutes=delay, max_retries=retries))


@given(s.lists(instants, min_size=1, max_size=20, unique_by=lambda d: d.replace(microsecond=0)))
def test_strictly_increasing_dates_are_accepted_and_normalised(dates):
    dates = sorted(d.replace(microsecond=0) for d in dates)
    raw = [d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in dates]
    out = retry.from_proto(Message(type="scheduled", retry_dates=raw))
    assert out.retry_dates == tuple(dates)
    assert retry.to_json(out) == {"type": "scheduled", "retryDates": [iso(d) for d in dates]}


@given(s.lists(instants, min_size=2, max_size=20), s.data())
def test_a_date_not_after_its_predecessor_is_refused(dates, data):
    dates = sorted(dates)
    i = data.draw(s.integers(1, len(dates) - 1))
    dates[i] = dates[i - 1] - timedelta(seconds=data.draw(s.integers(0, 3600)))
    with pytest.raises(ValidationError) as err:
        retry.from_proto(Message(type="scheduled", retry_dates=[iso(d) for d in dates]))
    assert err.value.field.startswith("retryStrategy.retryDates[")


@given(s.integers(21, 40))
def test_too_many_dates(count):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    dates = [iso(base + timedelta(hours=h)) for h in range(count)]
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates: must hold between 1 and 20"):
        retry.from_proto(Message(type="scheduled", retry_dates=dates))


def test_no_dates_and_bad_dates_and_bad_type():
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates: "):
        retry.from_proto(Message(type="scheduled"))
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates\[1\]: must be an ISO 8601"):
        retry.from_proto(Message(type="scheduled", retry_dates=["2026-01-01T00:00:00Z", "soon"]))
    with pytest.raises(ValidationError, match=r"^retryStrategy\.type: must be one of none, fixed_delay, scheduled$"):
        retry.from_proto(Message(type="exponential"))


@given(s.integers(*INT32), s.integers(*INT32))
def test_none_keeps_only_its_type(delay, retries):
    out = retry.from_proto(Message(type="none", delay_minutes=delay, max_retries=retries))
    assert out == RetryStrategy() and retry.to_json(out) == {"type": "none"}


# --- the next attempt ---------------------------------------------------------------------------

def test_none_never_retries():
    assert next_attempt_at(retry.from_json({"type": "none"}), 1, NOW) is None
    assert retry.from_json(None).max_attempts == 1


def test_fixed_delay_example():
    strategy = retry.from_json({"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2})
    assert strategy.max_attempts == 3
    assert next_attempt_at(strategy, 1, NOW) == NOW + timedelta(minutes=30)
    assert next_attempt_at(strategy, 2, NOW) == NOW + timedelta(minutes=30)
    assert next_attempt_at(strategy, 3, NOW) is None


def test_scheduled_skips_dates_already_past():
    strategy = retry.from_json({"type": "scheduled", "retryDates": [
        "2025-12-20T08:00:00Z", "2025-12-20T12:00:00Z", "2025-12-21T09:00:00Z"]})
    assert strategy.max_attempts == 4
    assert next_attempt_at(strategy, 1, NOW) == datetime(2025, 12, 20, 12, 0, tzinfo=UTC)
    assert next_attempt_at(strategy, 2, datetime(2025, 12, 22, tzinfo=UTC)) is None


@given(s.integers(1, 10080), s.integers(0, 10), instants)
def test_fixed_delay_never_more_attempts_and_never_early(delay, retries, now):
    strategy = RetryStrategy(type="fixed_delay", delay_minutes=delay, max_retries=retries)
    attempts = 1
    clock = now
    while True:
        due = next_attempt_at(strategy, attempts, clock)
        if due is None:
            break
        assert due - clock >= timedelta(minutes=delay)
        attempts += 1
        clock = due
        assert attempts <= 1 + retries
    assert attempts == 1 + retries


@given(s.lists(instants, max_size=6), instants, s.lists(s.integers(0, 3 * 24 * 60), max_size=10))
def test_scheduled_dates_are_in_the_future_and_bounded(dates, start, waits):
    strategy = RetryStrategy(type="scheduled", retry_dates=tuple(sorted(dates)))
    attempts, clock = 1, start
    for wait in [*waits, 0]:
        due = next_attempt_at(strategy, attempts, clock)
        if due is None:
            break
        assert due > clock
        assert due in strategy.retry_dates
        attempts += 1
        clock = due + timedelta(minutes=wait)
    assert attempts <= 1 + len(dates)
