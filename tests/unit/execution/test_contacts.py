"""What a call result does to a contact: the retry strategy (campaign_rules.retry) decides when it
is due again, the execution's status whether it still may be; attempts given back are not consumed."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from campaign_rules.retry import RetryStrategy
from services.execution.domain import contacts as ct
from services.execution.domain import status as st

NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)


@given(s.sampled_from(["none", "fixed_delay", "scheduled"]), s.integers(0, 5), s.integers(1, 8),
       s.sampled_from(ct.CALL_OUTCOMES), s.sampled_from(st.ALL))
def test_after_call_respects_the_attempt_limit(kind, retries, attempt, outcome, status):
    strategy = RetryStrategy(type=kind, delay_minutes=5, max_retries=retries,
                             retry_dates=tuple(NOW + timedelta(hours=h + 1) for h in range(retries)))
    decision = ct.after_call(outcome, attempt, strategy, status, NOW)
    if outcome == ct.ANSWERED:
        assert decision.state == ct.COMPLETED
    elif outcome == ct.INVALID_NUMBER:
        assert decision.state == ct.FAILED and decision.next_attempt_at is None
    elif attempt >= strategy.max_attempts:
        assert decision.state == ct.FAILED
    elif st.is_terminal(status):
        assert decision.state == ct.SKIPPED
    else:
        assert decision.state == ct.PENDING and decision.next_attempt_at > NOW
    assert decision.attempt == attempt


def test_invalid_number_fails_on_the_first_attempt_with_retries_left():
    strategy = RetryStrategy(type="fixed_delay", delay_minutes=5, max_retries=3)
    assert ct.after_call("busy", 1, strategy, st.RUNNING, NOW).state == ct.PENDING
    decision = ct.after_call(ct.INVALID_NUMBER, 1, strategy, st.RUNNING, NOW)
    assert (decision.state, decision.attempt, decision.next_attempt_at) == (ct.FAILED, 1, None)
    assert ct.COUNTER[decision.state] == "contacts_failed"


def test_invalid_number_consumes_an_attempt_but_is_not_retryable():
    assert ct.INVALID_NUMBER in ct.CALL_OUTCOMES
    assert ct.INVALID_NUMBER not in ct.RETRYABLE_OUTCOMES


def test_no_credits_gives_the_attempt_back():
    decision = ct.given_back(3, st.RUNNING, NOW)
    assert (decision.state, decision.attempt, decision.next_attempt_at) == (ct.PENDING, 2, NOW)
    assert ct.given_back(1, st.CANCELLED, NOW).state == ct.SKIPPED


def test_attempt_id_round_trip():
    aid = ct.attempt_id("e1d9c1de-0000-4000-8000-000000000000", "c-1", 3)
    assert ct.parse_attempt_id(aid) == ("e1d9c1de-0000-4000-8000-000000000000", "c-1", 3)
