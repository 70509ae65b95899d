from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from services.execution.domain import contacts as ct
from services.execution.domain import status as st
from services.execution.domain.retry import RetryStrategy, next_attempt_at

NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
instants = s.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC))


def test_none_never_retries():
    assert next_attempt_at(RetryStrategy.from_dict({"type": "none"}), 1, NOW) is None
    assert RetryStrategy.from_dict(None).max_attempts == 1


def test_fixed_delay_example():
    strategy = RetryStrategy.from_dict({"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2})
    assert strategy.max_attempts == 3
    assert next_attempt_at(strategy, 1, NOW) == NOW + timedelta(minutes=30)
    assert next_attempt_at(strategy, 2, NOW) == NOW + timedelta(minutes=30)
    assert next_attempt_at(strategy, 3, NOW) is None


def test_scheduled_skips_dates_already_past():
    strategy = RetryStrategy.from_dict({"type": "scheduled", "retryDates": [
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


@given(s.sampled_from(["none", "fixed_delay", "scheduled"]), s.integers(0, 5), s.integers(1, 8),
       s.sampled_from(ct.RETRYABLE_OUTCOMES + (ct.ANSWERED,)), s.sampled_from(st.ALL))
def test_after_call_respects_the_attempt_limit(kind, retries, attempt, outcome, status):
    strategy = RetryStrategy(type=kind, delay_minutes=5, max_retries=retries,
                             retry_dates=tuple(NOW + timedelta(hours=h + 1) for h in range(retries)))
    decision = ct.after_call(outcome, attempt, strategy, status, NOW)
    if outcome == ct.ANSWERED:
        assert decision.state == ct.COMPLETED
    elif attempt >= strategy.max_attempts:
        assert decision.state == ct.FAILED
    elif st.is_terminal(status):
        assert decision.state == ct.SKIPPED
    else:
        assert decision.state == ct.PENDING and decision.next_attempt_at > NOW
    assert decision.attempt == attempt


def test_no_credits_gives_the_attempt_back():
    decision = ct.given_back(3, st.RUNNING, NOW)
    assert (decision.state, decision.attempt, decision.next_attempt_at) == (ct.PENDING, 2, NOW)
    assert ct.given_back(1, st.CANCELLED, NOW).state == ct.SKIPPED


def test_attempt_id_round_trip():
    aid = ct.attempt_id("e1d9c1de-0000-4000-8000-000000000000", "c-1", 3)
    assert ct.parse_attempt_id(aid) == ("e1d9c1de-0000-4000-8000-000000000000", "c-1", 3)
