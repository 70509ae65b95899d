"""Which results apply to a contact no longer in progress: a call's real result after it was
declared unknown, or after its lease was given back, wins only while the contact has not been
attempted again; nothing else does."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as s

from services.execution.domain import contacts as ct
from services.execution.domain import status as st

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)


def test_real_result_after_unknown_applies_to_the_same_attempt_only():
    assert ct.late_result_applies(ct.PENDING, 2, ct.UNKNOWN, ct.ANSWERED, 2)
    assert ct.late_result_applies(ct.FAILED, 3, ct.UNKNOWN, "busy", 3)
    assert not ct.late_result_applies(ct.PENDING, 3, "busy", ct.ANSWERED, 2), "attempted again since"
    assert not ct.late_result_applies(ct.IN_PROGRESS, 3, ct.UNKNOWN, ct.ANSWERED, 2)


def test_real_result_after_a_lease_given_back_applies_to_the_attempt_given_back():
    assert ct.late_result_applies(ct.SKIPPED, 1, ct.LEASE_RETURNED, ct.ANSWERED, 2)
    assert ct.late_result_applies(ct.PENDING, 0, ct.LEASE_RETURNED, "no_answer", 1)
    assert not ct.late_result_applies(ct.PENDING, 1, ct.LEASE_RETURNED, ct.ANSWERED, 1)


def test_after_unknown_not_placed_gives_the_attempt_back_but_nothing_else_applies():
    # The lost dialer comes back and says it never handed the call to the carrier.
    assert ct.late_result_applies(ct.PENDING, 2, ct.UNKNOWN, ct.NOT_PLACED, 2)
    for outcome in (ct.UNKNOWN, "rejected"):
        assert not ct.late_result_applies(ct.PENDING, 2, ct.UNKNOWN, outcome, 2)
    # After a lease given back the attempt is already given back: not twice.
    assert not ct.late_result_applies(ct.PENDING, 1, ct.LEASE_RETURNED, ct.NOT_PLACED, 2)


@given(state=s.sampled_from(ct.STATES), attempt=s.integers(0, 5), last=s.sampled_from(
    [None, ct.ANSWERED, "busy", ct.UNKNOWN, ct.REJECTED, ct.NOT_PLACED, ct.LEASE_RETURNED]),
    outcome=s.sampled_from([*ct.CALL_OUTCOMES, ct.NOT_PLACED, "rejected"]), result_attempt=s.integers(1, 6))
def test_a_late_result_never_applies_once_the_contact_was_attempted_again(state, attempt, last, outcome,
                                                                          result_attempt):
    applies = ct.late_result_applies(state, attempt, last, outcome, result_attempt)
    if applies:
        assert state != ct.IN_PROGRESS and outcome != ct.UNKNOWN
        assert (last, attempt) in ((ct.UNKNOWN, result_attempt), (ct.LEASE_RETURNED, result_attempt - 1))
        assert outcome in ct.CALL_OUTCOMES or (outcome == ct.NOT_PLACED and last == ct.UNKNOWN)


@given(attempt=s.integers(1, 10), status=s.sampled_from(st.ALL))
def test_an_attempt_given_back_is_not_consumed(attempt, status):
    decision = ct.given_back(attempt, status, NOW)
    assert decision.attempt == attempt - 1
    assert decision.state == (ct.SKIPPED if st.is_terminal(status) else ct.PENDING)


def test_unknown_is_retried_by_the_strategy():
    assert ct.UNKNOWN in ct.RETRYABLE_OUTCOMES
