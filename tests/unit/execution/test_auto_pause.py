"""Auto-pause decisions: rule validation, when a rule fires, what a resume resets and where it lands."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from campaign_rules.limits import CREDITS_PER_CALL
from kernel.errors import ValidationError
from services.execution.domain import auto_pause as ap
from services.execution.domain import status as st
from services.execution.domain.auto_pause import validate_rules
from services.execution.domain.errors import InvalidExecutionStateError

NODES = {"welcome", "menu", "bye"}
NODE_IDS = sorted(NODES)

rules_strategy = hs.lists(
    hs.fixed_dictionaries({"nodeId": hs.sampled_from(NODE_IDS), "threshold": hs.integers(1, 20),
                           "resetOnResume": hs.booleans()}),
    max_size=3, unique_by=lambda r: r["nodeId"])
calls_strategy = hs.lists(hs.lists(hs.sampled_from(NODE_IDS), max_size=3), max_size=40)


def test_valid_rules_are_normalised():
    assert validate_rules([{"nodeId": "menu", "threshold": 3}], NODES) == [
        {"nodeId": "menu", "threshold": 3, "resetOnResume": False}]


@pytest.mark.parametrize("rules, field", [
    ([{"nodeId": "nope", "threshold": 1}], "autoPauseRules[0].nodeId"),
    ([{"nodeId": "", "threshold": 1}], "autoPauseRules[0].nodeId"),
    ([{"nodeId": "menu", "threshold": 0}], "autoPauseRules[0].threshold"),
    ([{"nodeId": "menu", "threshold": 1}, {"nodeId": "menu", "threshold": 2}], "autoPauseRules[1].nodeId"),
])
def test_invalid_rules_name_the_field(rules, field):
    with pytest.raises(ValidationError) as info:
        validate_rules(rules, NODES)
    assert info.value.field == field


def test_every_run_of_a_node_counts():
    assert ap.node_increments([["welcome", "menu"], ["welcome"], [], ["welcome", ""]]) == Counter(
        {"welcome": 3, "menu": 1})


@given(rules_strategy, hs.sets(hs.sampled_from(NODE_IDS)),
       hs.dictionaries(hs.sampled_from(NODE_IDS), hs.integers(0, 30)))
def test_a_rule_fires_only_when_its_node_ran_and_its_count_is_at_the_threshold(rules, touched, counts):
    fired = ap.fired_rules(rules, touched, counts)
    for rule in rules:
        expected = rule["nodeId"] in touched and counts.get(rule["nodeId"], 0) >= rule["threshold"]
        assert (rule in fired) == expected
    assert ap.fired_rules(None, touched, counts) == []


class Campaign:
    """An execution as the service drives it: counts, pause decisions, resumes."""

    def __init__(self, rules):
        self.rules = rules
        self.status = st.RUNNING
        self.counts: Counter[str] = Counter()
        self.calls_started_after_pause = 0

    def answer(self, batch: list[list[str]]) -> bool:
        """One batch of counted calls; True when it paused the execution."""
        if self.status != st.RUNNING:
            self.calls_started_after_pause += len(batch)
        increments = ap.node_increments(batch)
        self.counts.update(increments)
        if ap.fired_rules(self.rules, set(increments), self.counts) and self.status == st.RUNNING:
            self.status = st.PAUSED_THRESHOLD
            return True
        return False

    def resume(self, new_rules=None, credits=None):
        plan = ap.plan_resume(self.status, self.rules, new_rules, credits)
        for node in plan.reset_nodes:
            self.counts[node] = 0
        self.rules, self.status = plan.rules, plan.target
        return plan


@given(hs.integers(1, 15), hs.integers(1, 4))
def test_a_threshold_pauses_on_exactly_the_call_that_reaches_it(threshold, batch_size):
    campaign = Campaign([{"nodeId": "welcome", "threshold": threshold, "resetOnResume": True}])
    calls = 0
    while campaign.status == st.RUNNING:
        campaign.answer([["welcome", "bye"]] * batch_size)
        calls += batch_size
    # Paused by the batch that brought the count to the threshold, not one batch later.
    assert calls - batch_size < threshold <= calls
    assert campaign.counts["welcome"] == calls


@given(hs.integers(1, 10), hs.booleans())
def test_resume_resets_or_keeps_the_counter_and_never_pauses_at_once(threshold, reset):
    campaign = Campaign([{"nodeId": "welcome", "threshold": threshold, "resetOnResume": reset}])
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


@given(rules_strategy, calls_strategy)
def test_counts_follow_the_calls_and_no_call_counts_as_started_after_a_pause(rules, calls):
    campaign = Campaign(rules)
    paused_at = None
    for i, call in enumerate(calls):
        if campaign.status != st.RUNNING:
            break  # the orchestrator starts nothing once the pause is decided
        if campaign.answer([call]):
            paused_at = i
    assert campaign.calls_started_after_pause == 0
    ran = ap.node_increments(calls[: (paused_at + 1) if paused_at is not None else len(calls)])
    assert campaign.counts == ran
    reached = any(ran[r["nodeId"]] >= r["threshold"] for r in rules)
    assert (paused_at is not None) == reached


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
    expected_reset = [r["nodeId"] for r in effective if r["resetOnResume"]] if status == st.PAUSED_THRESHOLD else []
    assert plan.reset_nodes == expected_reset
    # Known credits short of one minute: paused_no_credits at once; unknown credits: running.
    short = credits is not None and credits < CREDITS_PER_CALL
    assert plan.target == (st.PAUSED_NO_CREDITS if short else st.RUNNING)
    assert st.can_transition(status, plan.target)


def test_rules_replaced_at_resume_decide_the_reset():
    old = [{"nodeId": "welcome", "threshold": 5, "resetOnResume": False}]
    new = [{"nodeId": "welcome", "threshold": 10, "resetOnResume": True},
           {"nodeId": "menu", "threshold": 3, "resetOnResume": False}]
    plan = ap.plan_resume(st.PAUSED_THRESHOLD, old, new, 100)
    assert plan.reset_nodes == ["welcome"] and plan.rules == new and plan.target == st.RUNNING
    assert ap.plan_resume(st.PAUSED, old, None, None).rules == old
    assert ap.plan_resume(st.PAUSED_THRESHOLD, None, None, 0).target == st.PAUSED_NO_CREDITS


def test_counter_views_follow_the_rules():
    rules = [{"nodeId": "menu", "threshold": 3, "resetOnResume": False},
             {"nodeId": "welcome", "threshold": 5, "resetOnResume": True}]
    assert ap.counter_views(rules, {"welcome": 7}) == [
        {"nodeId": "menu", "count": 0, "threshold": 3}, {"nodeId": "welcome", "count": 7, "threshold": 5}]
    assert ap.counter_views(None, {"welcome": 7}) == []
