"""after_call with the result's `reached`: a voicemail whose message counts as reaching the contact
completes it (never retried); any other voicemail goes to the retry strategy and its `retryOn`, and
the flag changes nothing on another outcome."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as s

from campaign_rules.answering_machine import LEAVE_MESSAGE, AnsweringMachine
from campaign_rules.retry import RETRY_ON, RetryStrategy
from services.execution.adapters.executions import execution_row, rule_columns
from services.execution.domain import contacts as ct
from services.execution.domain import status as st
from tests.unit.execution.test_stored_rules import stored

NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)
RETRIES = RetryStrategy(type="fixed_delay", delay_minutes=30, max_retries=2)
NO_VOICEMAIL = RetryStrategy(type="fixed_delay", delay_minutes=30, max_retries=2, retry_on=("busy", "no_answer"))


def test_a_message_left_that_counts_completes_the_contact():
    assert ct.after_call(ct.VOICEMAIL, 1, RETRIES, st.RUNNING, NOW, True) == ct.Decision(ct.COMPLETED, 1)


def test_a_voicemail_that_does_not_count_is_retried():
    assert ct.after_call(ct.VOICEMAIL, 1, RETRIES, st.RUNNING, NOW) == ct.Decision(
        ct.PENDING, 1, NOW + timedelta(minutes=30))
    assert ct.after_call(ct.VOICEMAIL, 3, RETRIES, st.RUNNING, NOW).state == ct.FAILED  # no retry left


def test_retry_on_without_voicemail_fails_it_unless_it_counts():
    assert ct.after_call(ct.VOICEMAIL, 1, NO_VOICEMAIL, st.RUNNING, NOW).state == ct.FAILED
    assert ct.after_call(ct.VOICEMAIL, 1, NO_VOICEMAIL, st.RUNNING, NOW, True).state == ct.COMPLETED


@given(s.sampled_from(ct.CALL_OUTCOMES), s.booleans(), s.integers(1, 3), s.sampled_from([RETRIES, NO_VOICEMAIL]),
       s.sampled_from([st.RUNNING, st.PAUSED, st.CANCELLED]))
def test_the_flag_completes_a_voicemail_and_nothing_else(outcome, flag, attempt, strategy, status):
    decision = ct.after_call(outcome, attempt, strategy, status, NOW, flag)
    assert decision.attempt == attempt
    if outcome == ct.ANSWERED or (outcome == ct.VOICEMAIL and flag):
        assert decision == ct.Decision(ct.COMPLETED, attempt)
    else:
        assert decision == ct.after_call(outcome, attempt, strategy, status, NOW)
        retried = outcome == ct.UNKNOWN or outcome in (strategy.retry_on or RETRY_ON)
        if outcome == ct.INVALID_NUMBER or not retried or attempt >= strategy.max_attempts:
            assert decision.state == ct.FAILED
        else:
            assert decision.state == (ct.SKIPPED if status == st.CANCELLED else ct.PENDING)
    assert ct.reached(outcome, flag) == (decision.state == ct.COMPLETED)


def test_the_snapshot_is_stored_and_read_back():
    none = execution_row(stored())
    assert none.answering_machine is None and rule_columns(none)["answering_machine"] is None
    row = replace(none, answering_machine=AnsweringMachine(True, LEAVE_MESSAGE, "vm", True))
    column = json.loads(rule_columns(row)["answering_machine"] or "null")
    assert column == {"detect": True, "onMachine": "leave_message", "messageNodeId": "vm", "countAsReached": True}
    assert execution_row(stored(answering_machine=column)) == row
