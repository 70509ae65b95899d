"""What a resume does to auto-pause rules: which rules are in force, what it resets, where it lands.

Rule validation, when a rule fires and the counters shown are campaign_rules.auto_pause
(tests/unit/campaign_rules/test_auto_pause.py); here they only drive an execution.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from campaign_rules import auto_pause as rules_of
from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.limits import CREDITS_PER_CALL
from services.execution.domain import auto_pause as ap
from services.execution.domain import status as st
from services.execution.domain.errors import InvalidExecutionStateError

NODE_IDS = ["bye", "menu", "welcome"]

rules_strategy = hs.lists(
    hs.builds(AutoPauseRule, hs.sampled_from(NODE_IDS), hs.integers(1, 20), hs.booleans()),
    max_size=3, unique_by=lambda r: r.node_id).map(tuple)


class Campaign:
    """An execution as the service drives it: counts, pause decisions, resumes."""

    def __init__(self, rules):
        self.rules = rules
        self.status = st.RUNNING
        self.counts: Counter[str] = Counter()

    def answer(self, batch: list[list[str]]) -> bool:
        """One batch of counted calls; True when it paused the execution."""
        increments = rules_of.node_increments(batch)
        self.counts.update(increments)
        if rules_of.fired_rules(self.rules, set(increments), self.counts) and self.status == st.RUNNING:
            self.status = st.PAUSED_THRESHOLD
            return True
        return False

    def resume(self, new_rules=None, credits=None):
        plan = ap.plan_resume(self.status, self.rules, new_rules, credits)
        for node in plan.reset_nodes:
            self.counts[node] = 0
        self.rules, self.status = plan.rules, plan.target
        return plan


@given(hs.integers(1, 10), hs.booleans())
def test_resume_resets_or_keeps_the_counter_and_never_pauses_at_once(threshold, reset):
    campaign = Campaign((AutoPauseRule("welcome", threshold, reset),))
    for _ in range(threshold):
        campaign.answer([["welcome"]])
    assert campaign.status == st.PAUSED_THRESHOLD
    plan = campaign.resume()
    assert campaign.status == st.RUNNING  # never re-paused by the resume itself
    assert plan.reset_nodes == (["welcome"] if reset else [])
    # A call that does not run the node never pauses, even over the threshold.
    campaign.answer([["bye"]])
    assert campaign.status == st.RUNNING
    calls = 0
    while campaign.status == st.RUNNING:
        campaign.answer([["welcome"]])
        calls += 1
    assert calls == (threshold if reset else 1)


@given(hs.sampled_from(st.ALL), rules_strategy, hs.one_of(hs.none(), rules_strategy),
       hs.one_of(hs.none(), hs.integers(-2, 3)))
def test_resume_plan(status, current, new, credits):
    if status not in st.PAUSED_STATES:
        with pytest.raises(InvalidExecutionStateError):
            ap.plan_resume(status, current, new, credits)
        return
    plan = ap.plan_resume(status, current, new, credits)
    effective = new if new is not None else current
    assert plan.rules == effective and plan.replace_rules == (new is not None)
    # Only a resume from paused_threshold resets, and only the rules (in force) asking for it.
    expected_reset = [r.node_id for r in effective if r.reset_on_resume] if status == st.PAUSED_THRESHOLD else []
    assert plan.reset_nodes == expected_reset
    # Known credits short of one minute: paused_no_credits at once; unknown credits: running.
    short = credits is not None and credits < CREDITS_PER_CALL
    assert plan.target == (st.PAUSED_NO_CREDITS if short else st.RUNNING)
    assert st.can_transition(status, plan.target)


def test_rules_replaced_at_resume_decide_the_reset():
    old = (AutoPauseRule("welcome", 5, False),)
    new = (AutoPauseRule("welcome", 10, True), AutoPauseRule("menu", 3, False))
    plan = ap.plan_resume(st.PAUSED_THRESHOLD, old, new, 100)
    assert plan.reset_nodes == ["welcome"] and plan.rules == new and plan.target == st.RUNNING
    assert ap.plan_resume(st.PAUSED, old, None, None).rules == old
    assert ap.plan_resume(st.PAUSED_THRESHOLD, None, None, 0).target == st.PAUSED_NO_CREDITS
    assert ap.plan_resume(st.PAUSED, None, None, None).rules is None  # no rules stays distinct from []
    assert ap.plan_resume(st.PAUSED, old, (), None).rules == ()
