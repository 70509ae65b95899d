"""The call record of an attempt id decides whether its call happened: one attempt id, at most one call.

A record is `claimed` (no call yet) → `placing` (credit reserved, the call may be live) →
`finished`; or `rejected` (no call: no DID, no credits, not placed). Every change of state obeys
`TRANSITIONS`; the repository's SQL is generated from these constants. A repeated request of an
attempt id that already has a record is answered by `decide_repeat`, never by a second call
while a call may have started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.dialer.domain.voicemail import AmdResult

# States of a call record.
CLAIMED = "claimed"
PLACING = "placing"
FINISHED = "finished"
REJECTED = "rejected"
STATES = (CLAIMED, PLACING, FINISHED, REJECTED)

# The state a new record is made in, and the states whose owner holds a lease on the record
# (renewed by its heartbeat, ended at once when it shuts down).
NEW = CLAIMED
LEASED = (CLAIMED, PLACING)

# Outcomes the dialer writes itself (the carrier's are answered, no_answer, busy, failed, voicemail,
# invalid_number).
ANSWERED = "answered"
UNKNOWN = "unknown"
NOT_PLACED = "not_placed"
REJECTED_OUTCOME = "rejected"

# Reasons of a call whose dialer was lost mid-call, and of the real result that replaced it.
DIALER_LOST = "dialer_lost"
LATE_RESULT = "late_result"

# state → the states a record in it may move to.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    # claimed → claimed: the claim of a dialer that died before any call is taken over.
    CLAIMED: frozenset({CLAIMED, PLACING, REJECTED}),
    # placing → finished also when the call's dialer is lost: finished with outcome unknown.
    PLACING: frozenset({FINISHED, REJECTED}),
    # Only while the outcome is unknown (see `may_change`): its owner stores what really happened.
    FINISHED: frozenset({FINISHED, REJECTED}),
    # The attempt is not consumed by a rejection: the same attempt id requested again is placed.
    REJECTED: frozenset({CLAIMED}),
}

# A finished record may change only while its outcome is this one (declared lost by another dialer).
REOPENABLE_OUTCOME = UNKNOWN


def sources(target: str) -> tuple[str, ...]:
    """The states a record may move to `target` from, in `STATES` order."""
    if target not in TRANSITIONS:
        raise ValueError(f"unknown call record state {target!r}")
    return tuple(state for state in STATES if target in TRANSITIONS[state])


def may_change(state: str, outcome: str | None, target: str) -> bool:
    """Whether a record in `state` with `outcome` may move to `target`."""
    if target not in TRANSITIONS.get(state, frozenset()):
        return False
    return state != FINISHED or outcome == REOPENABLE_OUTCOME


@dataclass(frozen=True)
class NewAttempt:
    """An attempt as a dial request asks for it."""

    attempt_id: str
    execution_id: str
    organization_id: str
    contact_id: str
    phone: str
    attempt: int


@dataclass(frozen=True)
class CallRecord:
    """The record of an attempt id. Call times are virtual (the shared clock)."""

    id: str
    attempt_id: str
    execution_id: str
    organization_id: str
    contact_id: str
    phone: str
    attempt: int
    state: str
    owner: str
    did_id: str | None = None
    did_number: str | None = None
    reservation_id: str | None = None
    settled: bool = False
    outcome: str | None = None
    reason: str | None = None
    rejections: int = 0
    rejected_stream_seq: int | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    talk_seconds: int = 0
    node_ids: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    # The far end's final SIP status and Q.850 cause; None when the carrier does not say (sim).
    sip_code: int | None = None
    q850_cause: int | None = None
    # What answering-machine detection decided; None when none ran.
    amd: AmdResult | None = None


class Verdict(StrEnum):
    """What the dialer does with a dial request.

    PLACE: this dialer owns the attempt and may place its call.
    FINISHED: a call already ended; re-publish its result.
    REJECTED: this very message was rejected before; re-publish the rejection.
    BUSY: another dialer is working on the attempt right now; try again later.
    ABANDONED: a call was being placed by a dialer that is gone (or stalled); the record is
        finished with outcome unknown; publish that.
    """

    PLACE = "place"
    FINISHED = "finished"
    REJECTED = "rejected"
    BUSY = "busy"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Held:
    """What the decision reads of an attempt's existing record, under its row lock."""

    state: str
    lease_expired: bool
    rejected_stream_seq: int | None


@dataclass(frozen=True)
class ClaimDecision:
    """The verdict, and the state the record moves to under the same lock first (None: left as is)."""

    verdict: Verdict
    becomes: str | None = None


def decide_repeat(held: Held, stream_seq: int) -> ClaimDecision:
    """A request (from the stream message `stream_seq`) for an attempt id that already has a record.

    A call that may have started is never placed again: a finished one is answered with its
    result, a placing one is waited for while its dialer's lease lives, and declared lost
    (unknown) once it has expired. The owner is not consulted: a redelivery to the same dialer
    while it still works the attempt waits like any other.
    """
    if held.state == FINISHED:
        return ClaimDecision(Verdict.FINISHED)
    if held.state == REJECTED:
        if held.rejected_stream_seq == stream_seq:
            return ClaimDecision(Verdict.REJECTED)
        return ClaimDecision(Verdict.PLACE, becomes=CLAIMED)
    if held.state not in LEASED:
        raise ValueError(f"unknown call record state {held.state!r}")
    if not held.lease_expired:
        return ClaimDecision(Verdict.BUSY)
    if held.state == CLAIMED:
        # The previous owner died before any call could start: take the attempt over.
        return ClaimDecision(Verdict.PLACE, becomes=CLAIMED)
    return ClaimDecision(Verdict.ABANDONED, becomes=FINISHED)


@dataclass(frozen=True)
class Claim:
    """The repository's answer to a dial request: the verdict and the record as it now is."""

    kind: Verdict
    record: CallRecord
