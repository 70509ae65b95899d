"""The claim decision of a repeated attempt id and the call record's transition table."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dialer.adapters.call_records import may_become, state_in
from services.dialer.domain import attempts
from services.dialer.domain.attempts import (
    CLAIMED,
    FINISHED,
    LEASED,
    PLACING,
    REJECTED,
    STATES,
    TRANSITIONS,
    ClaimDecision,
    Held,
    Verdict,
    decide_repeat,
    may_change,
    sources,
)

seqs = st.one_of(st.none(), st.integers(min_value=1, max_value=5))
helds = st.builds(Held, st.sampled_from(STATES), st.booleans(), seqs)
outcomes = st.sampled_from([None, "answered", "no_answer", "busy", "failed", "voicemail", "unknown", "rejected",
                            "not_placed"])


def reference(held: Held, stream_seq: int) -> tuple[str, str | None]:
    """The decision as the repository's SQL path took it before it moved to the domain."""
    if held.state == "finished":
        return "finished", None
    if held.state == "rejected":
        if held.rejected_stream_seq == stream_seq:
            return "rejected", None
        return "place", "claimed"  # taken over
    if not held.lease_expired:
        return "busy", None
    if held.state == "claimed":
        return "place", "claimed"  # taken over
    return "abandoned", "finished"  # finished as unknown, dialer_lost


@given(helds, st.integers(min_value=1, max_value=5))
def test_decision_is_the_one_the_repository_took(held, stream_seq):
    decision = decide_repeat(held, stream_seq)
    assert (str(decision.verdict), decision.becomes) == reference(held, stream_seq)


@given(helds, st.integers(min_value=1, max_value=5))
def test_a_call_that_may_have_started_is_never_placed_again(held, stream_seq):
    decision = decide_repeat(held, stream_seq)
    if held.state in (PLACING, FINISHED):
        assert decision.verdict is not Verdict.PLACE
    if held.state in LEASED and not held.lease_expired:
        assert decision == ClaimDecision(Verdict.BUSY), "a live lease is never taken over"


@given(helds, st.integers(min_value=1, max_value=5))
def test_every_change_the_decision_makes_is_in_the_transition_table(held, stream_seq):
    decision = decide_repeat(held, stream_seq)
    if decision.becomes is not None:
        assert decision.becomes in TRANSITIONS[held.state]
        assert held.state in sources(decision.becomes)


def test_claim_kinds_keep_their_names():
    assert [str(v) for v in Verdict] == ["place", "finished", "rejected", "busy", "abandoned"]


def test_an_unknown_state_is_refused():
    with pytest.raises(ValueError):
        decide_repeat(Held("ringing", True, None), 1)
    with pytest.raises(ValueError):
        sources("ringing")


def test_sources_of_each_state():
    assert sources(CLAIMED) == (CLAIMED, REJECTED)
    assert sources(PLACING) == (CLAIMED,)
    assert sources(FINISHED) == (PLACING, FINISHED)
    assert sources(REJECTED) == (CLAIMED, PLACING, FINISHED)


@given(st.sampled_from(STATES), outcomes, st.sampled_from(STATES))
def test_a_finished_record_changes_only_while_its_outcome_is_unknown(state, outcome, target):
    allowed = may_change(state, outcome, target)
    assert allowed == (target in TRANSITIONS[state] and (state != FINISHED or outcome == attempts.UNKNOWN))
    if allowed:
        assert state in sources(target)


def test_sql_conditions_are_the_ones_written_before():
    assert may_become(REJECTED, "c") == ("(c.state IN ('claimed', 'placing') OR "
                                         "(c.state = 'finished' AND c.outcome = 'unknown'))")
    assert may_become(FINISHED, "c") == "(c.state = 'placing' OR (c.state = 'finished' AND c.outcome = 'unknown'))"
    assert may_become(PLACING, "c") == "c.state = 'claimed'"
    assert may_become(CLAIMED) == "state IN ('claimed', 'rejected')"
    assert state_in(LEASED) == "state IN ('claimed', 'placing')"
    assert state_in([FINISHED], "c") == "c.state = 'finished'"
