"""Auto-pause rules: validation (own checks, then nodes against the flow), when a rule fires,
and the counters shown."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from campaign_rules import auto_pause as ap
from campaign_rules.auto_pause import AutoPauseRule, CounterView
from campaign_rules.proto import AutoPauseRuleMessage as RuleMessage
from campaign_rules.proto import AutoPauseRulesMessage as RulesMessage
from kernel.errors import ValidationError

NODE_IDS = ["bye", "menu", "welcome"]

rules_strategy = hs.lists(
    hs.builds(AutoPauseRule, hs.sampled_from(NODE_IDS), hs.integers(1, 20), hs.booleans()),
    max_size=3, unique_by=lambda r: r.node_id)
calls_strategy = hs.lists(hs.lists(hs.sampled_from(NODE_IDS), max_size=3), max_size=40)


def message(*rules: tuple[str, int] | tuple[str, int, bool]) -> RulesMessage:
    return RulesMessage(rules=[RuleMessage(node_id=r[0], threshold=r[1], reset_on_resume=bool(r[2:] and r[2]))
                               for r in rules])


# --- validation ---------------------------------------------------------------------------------

def test_valid_rules_are_kept():
    assert ap.from_proto(message(("menu", 3), ("welcome", 1, True))) == (
        AutoPauseRule("menu", 3, False), AutoPauseRule("welcome", 1, True))
    assert ap.from_proto(RulesMessage()) == ()


@pytest.mark.parametrize(("rules", "text"), [
    ([("", 1)], "autoPauseRules[0].nodeId: must not be empty"),
    ([(" ", 1)], "autoPauseRules[0].nodeId: must not be empty"),
    ([("menu", 0)], "autoPauseRules[0].threshold: must be at least 1"),
    ([("menu", 1), ("menu", 2)], "autoPauseRules[1].nodeId: another rule already counts node 'menu'"),
])
def test_invalid_rules_name_the_field(rules, text):
    with pytest.raises(ValidationError) as info:
        ap.from_proto(message(*rules))
    assert str(info.value) == text and info.value.field == text.split(":")[0]


def test_rule_nodes_must_be_in_the_flow():
    ap.check_nodes((AutoPauseRule("menu", 3),), ["welcome", "menu"])
    ap.check_nodes(None, [])
    with pytest.raises(ValidationError, match=r"^autoPauseRules\[1\]\.nodeId: node 'x' is not in the program's flow$"):
        ap.check_nodes((AutoPauseRule("welcome", 3), AutoPauseRule("x", 3)), ["welcome"])


@given(rules_strategy)
def test_rules_round_trip(rules):
    rules = tuple(rules)
    assert ap.from_proto(ap.to_proto(rules)) == rules
    assert ap.from_json(ap.to_json(rules)) == rules
    assert ap.from_json(None) is None


# --- evaluation ---------------------------------------------------------------------------------

def test_every_run_of_a_node_counts():
    assert ap.node_increments([["welcome", "menu"], ["welcome"], [], ["welcome", ""]]) == Counter(
        {"welcome": 3, "menu": 1})


@given(rules_strategy, hs.sets(hs.sampled_from(NODE_IDS)),
       hs.dictionaries(hs.sampled_from(NODE_IDS), hs.integers(0, 30)))
def test_a_rule_fires_only_when_its_node_ran_and_its_count_is_at_the_threshold(rules, touched, counts):
    fired = ap.fired_rules(rules, touched, counts)
    for rule in rules:
        expected = rule.node_id in touched and counts.get(rule.node_id, 0) >= rule.threshold
        assert (rule in fired) == expected
    assert ap.fired_rules(None, touched, counts) == []


class Campaign:
    """An execution counting its calls' nodes and pausing when a rule fires."""

    def __init__(self, rules):
        self.rules = rules
        self.running = True
        self.counts: Counter[str] = Counter()
        self.calls_started_after_pause = 0

    def answer(self, batch: list[list[str]]) -> bool:
        """One batch of counted calls; True when it paused the execution."""
        if not self.running:
            self.calls_started_after_pause += len(batch)
        increments = ap.node_increments(batch)
        self.counts.update(increments)
        if ap.fired_rules(self.rules, set(increments), self.counts) and self.running:
            self.running = False
            return True
        return False


@given(hs.integers(1, 15), hs.integers(1, 4))
def test_a_threshold_pauses_on_exactly_the_call_that_reaches_it(threshold, batch_size):
    campaign = Campaign([AutoPauseRule("welcome", threshold, True)])
    calls = 0
    while campaign.running:
        campaign.answer([["welcome", "bye"]] * batch_size)
        calls += batch_size
    # Paused by the batch that brought the count to the threshold, not one batch later.
    assert calls - batch_size < threshold <= calls
    assert campaign.counts["welcome"] == calls


@given(rules_strategy, calls_strategy)
def test_counts_follow_the_calls_and_no_call_counts_as_started_after_a_pause(rules, calls):
    campaign = Campaign(rules)
    paused_at = None
    for i, call in enumerate(calls):
        if not campaign.running:
            break  # the orchestrator starts nothing once the pause is decided
        if campaign.answer([call]):
            paused_at = i
    assert campaign.calls_started_after_pause == 0
    ran = ap.node_increments(calls[: (paused_at + 1) if paused_at is not None else len(calls)])
    assert campaign.counts == ran
    reached = any(ran[r.node_id] >= r.threshold for r in rules)
    assert (paused_at is not None) == reached


def test_counter_views_follow_the_rules():
    rules = [AutoPauseRule("menu", 3), AutoPauseRule("welcome", 5, True)]
    assert ap.counter_views(rules, {"welcome": 7}) == [CounterView("menu", 0, 3), CounterView("welcome", 7, 5)]
    assert ap.counter_views(None, {"welcome": 7}) == []
    assert ap.rule_nodes(rules) == ["menu", "welcome"] and ap.rule_nodes(None) == []
