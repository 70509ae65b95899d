"""Per-contact states, what a call result does to a contact, and the counters they feed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.execution.domain import status as st
from services.execution.domain.retry import RetryStrategy, next_attempt_at

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
RETRYABLE_OUTCOMES = ("no_answer", "busy", "failed", "voicemail")


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


def after_call(outcome: str, attempt: int, strategy: RetryStrategy, execution_status: str,
               now: datetime) -> Decision:
    """Where an in-progress contact goes once attempt `attempt` ended with `outcome`."""
    if outcome == ANSWERED:
        return Decision(COMPLETED, attempt)
    due = next_attempt_at(strategy, attempt, now)
    if due is None:
        return Decision(FAILED, attempt)
    if st.is_terminal(execution_status):
        return Decision(SKIPPED, attempt)  # cancelled or stopped: no more calls
    return Decision(PENDING, attempt, due)


def after_no_credits(attempt: int, execution_status: str, now: datetime) -> Decision:
    """The call was never placed: the attempt is given back and the contact waits."""
    if st.is_terminal(execution_status):
        return Decision(SKIPPED, attempt - 1)
    return Decision(PENDING, max(0, attempt - 1), now)


def counter_deltas(moves: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Counter changes for contact moves (from_state, to_state); the total never changes."""
    deltas: Counter[str] = Counter()
    for source, target in moves:
        if source == target:
            continue
        deltas[COUNTER[source]] -= 1
        deltas[COUNTER[target]] += 1
    return {k: v for k, v in deltas.items() if v}
