"""Per-contact states, what a call result does to a contact, and the counters they feed.

A call outcome consumes an attempt; `answered` completes the contact, and so does a `voicemail`
the dialer reports as `reached` (a machine answered, the program's message was left and the
program's answeringMachine counts that as reaching the person: countAsReached); `invalid_number`
(the number does not exist) ends the contact as failed at once whatever the retry strategy:
calling it again cannot reach anybody. Any other outcome goes to the retry strategy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from campaign_rules.retry import RetryStrategy, next_attempt_at, retries_outcome
from services.execution.domain import status as st

PENDING = "pending"
IN_PROGRESS = "in_progress"
COMPLETED = "completed"
FAILED = "failed"
SKIPPED = "skipped"
STATES = (PENDING, IN_PROGRESS, COMPLETED, FAILED, SKIPPED)

# The execution counter each contact state is counted in.
COUNTER = {
    PENDING: "contacts_pending",
    IN_PROGRESS: "contacts_in_progress",
    COMPLETED: "contacts_completed",
    FAILED: "contacts_failed",
    SKIPPED: "contacts_skipped",
}

ANSWERED = "answered"
VOICEMAIL = "voicemail"
# The dialer lost the call (its lease ran out mid-call): the attempt counts and is retried by the
# strategy, and the real result, should it come later, still wins (late_result_applies).
UNKNOWN = "unknown"
RETRYABLE_OUTCOMES = ("no_answer", "busy", "failed", VOICEMAIL, UNKNOWN)
# The carrier says the number does not exist (SIP 404/484/604): never retried.
INVALID_NUMBER = "invalid_number"
CALL_OUTCOMES = (ANSWERED, *RETRYABLE_OUTCOMES, INVALID_NUMBER)

# Attempts given back (no call was placed, so no attempt is consumed); the same attempt id is
# requested again later. REJECTED: no credits. NOT_PLACED: the gate was closed or the request's
# deadline had passed. LEASE_RETURNED: the lease ran out while the execution could not call
# (paused, ended, in a window, past stopAt); a call may still have happened, so its result wins.
REJECTED = "rejected"
NOT_PLACED = "not_placed"
LEASE_RETURNED = "lease_returned"
GIVEN_BACK = (REJECTED, NOT_PLACED, LEASE_RETURNED)


def attempt_id(execution_id: str, contact_ref: str, attempt: int) -> str:
    """The fencing token of one attempt: a result applies only to the attempt it names."""
    return f"{execution_id}:{contact_ref}:{attempt}"


def parse_attempt_id(value: str) -> tuple[str, str, int]:
    execution_id, rest = value.split(":", 1)
    contact_ref, attempt = rest.rsplit(":", 1)
    return execution_id, contact_ref, int(attempt)


@dataclass(frozen=True)
class Decision:
    state: str
    attempt: int
    next_attempt_at: datetime | None = None


def reached(outcome: str, message_left_counts: bool = False) -> bool:
    """Whether a call with `outcome` reached its contact: answered, or a voicemail whose message
    counts as reaching it (the result's `reached`). The flag means nothing on another outcome."""
    return outcome == ANSWERED or (outcome == VOICEMAIL and message_left_counts)


def after_call(outcome: str, attempt: int, strategy: RetryStrategy, execution_status: str,
               now: datetime, reached_contact: bool = False) -> Decision:
    """Where an in-progress contact goes once attempt `attempt` ended with `outcome`
    (`reached_contact`: the result's `reached`, see `reached`). A call that reached its contact
    completes it. An outcome the strategy's `retryOn` leaves out ends the contact as failed;
    `unknown` (the dialer lost the call, nobody knows how it ended) is retried by the strategy
    whatever `retryOn` names."""
    if reached(outcome, reached_contact):
        return Decision(COMPLETED, attempt)
    if outcome == INVALID_NUMBER:
        return Decision(FAILED, attempt)
    if outcome != UNKNOWN and not retries_outcome(strategy, outcome):
        return Decision(FAILED, attempt)
    due = next_attempt_at(strategy, attempt, now)
    if due is None:
        return Decision(FAILED, attempt)
    if st.is_terminal(execution_status):
        return Decision(SKIPPED, attempt)  # cancelled or stopped: no more calls
    return Decision(PENDING, attempt, due)


def given_back(attempt: int, execution_status: str, now: datetime) -> Decision:
    """No call was placed: the attempt is given back and the contact waits (skipped once ended)."""
    if st.is_terminal(execution_status):
        return Decision(SKIPPED, max(0, attempt - 1))
    return Decision(PENDING, max(0, attempt - 1), now)


def late_result_applies(state: str, attempt: int, last_outcome: str | None, outcome: str,
                        result_attempt: int) -> bool:
    """Whether the result of attempt `result_attempt`, arriving for a contact no longer in progress,
    still applies: only while the contact has not been attempted again — its attempt is still the
    unknown one, or one below a lease given back. After unknown, the truth wins either way: the
    call's real outcome, or not_placed (the lost dialer had not handed it to the carrier, so the
    attempt is given back). After a lease given back only a real outcome applies (the attempt
    was already given back)."""
    if state == IN_PROGRESS or outcome == UNKNOWN:
        return False
    if last_outcome == UNKNOWN:
        return attempt == result_attempt and outcome in (*CALL_OUTCOMES, NOT_PLACED)
    if last_outcome == LEASE_RETURNED:
        return attempt == result_attempt - 1 and outcome in CALL_OUTCOMES
    return False


def counter_deltas(moves: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Counter changes for contact moves (from_state, to_state); the total never changes."""
    deltas: Counter[str] = Counter()
    for source, target in moves:
        if source == target:
            continue
        deltas[COUNTER[source]] -= 1
        deltas[COUNTER[target]] += 1
    return {k: v for k, v in deltas.items() if v}
