"""after_call with retryStrategy.retryOn: an outcome the strategy does not retry ends the contact as
failed at once; `unknown` (the dialer lost the call) is retried whatever retryOn names."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from campaign_rules.retry import RETRY_ON, RetryStrategy
from services.execution.domain import contacts as ct
from services.execution.domain import status as st

NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
BUSY_ONLY = RetryStrategy(type="fixed_delay", delay_minutes=5, max_retries=3, retry_on=("busy",))


def test_busy_only_ends_a_no_answer_contact_as_failed():
    decision = ct.after_call("no_answer", 1, BUSY_ONLY, st.RUNNING, NOW)
    assert (decision.state, decision.attempt, decision.next_attempt_at) == (ct.FAILED, 1, None)
    assert ct.after_call("busy", 1, BUSY_ONLY, st.RUNNING, NOW) == ct.Decision(ct.PENDING, 1,
                                                                              NOW + timedelta(minutes=5))


def test_a_lost_call_is_still_retried():
    decision = ct.after_call(ct.UNKNOWN, 1, BUSY_ONLY, st.RUNNING, NOW)
    assert decision.state == ct.PENDING and decision.next_attempt_at == NOW + timedelta(minutes=5)


def test_not_retried_is_failed_even_once_the_execution_ended():
    assert ct.after_call("voicemail", 1, BUSY_ONLY, st.CANCELLED, NOW).state == ct.FAILED
    assert ct.after_call("busy", 1, BUSY_ONLY, st.CANCELLED, NOW).state == ct.SKIPPED


@given(s.sampled_from(["fixed_delay", "scheduled"]), s.one_of(s.none(), s.lists(
    s.sampled_from(RETRY_ON), min_size=1, max_size=4, unique=True)), s.integers(1, 3),
    s.sampled_from(ct.CALL_OUTCOMES))
def test_only_the_outcomes_named_are_retried(kind, retry_on, attempt, outcome):
    strategy = RetryStrategy(type=kind, delay_minutes=5, max_retries=3,
                             retry_dates=tuple(NOW + timedelta(hours=h + 1) for h in range(3)),
                             retry_on=None if retry_on is None else tuple(retry_on))
    decision = ct.after_call(outcome, attempt, strategy, st.RUNNING, NOW)
    retried = outcome == ct.UNKNOWN or outcome in (RETRY_ON if retry_on is None else retry_on)
    if outcome == ct.ANSWERED:
        assert decision.state == ct.COMPLETED
    elif retried:
        assert decision.state == ct.PENDING and decision.next_attempt_at > NOW
    else:
        assert decision.state == ct.FAILED and decision.next_attempt_at is None
    assert decision.attempt == attempt
