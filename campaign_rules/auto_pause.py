"""Auto-pause rules: an execution pauses once the calls that ran a flow node reach a threshold.

A rule names a node of the program's flow (one rule per node) and a threshold of at least 1;
`resetOnResume` restarts its counter when the execution is resumed after the rule paused it.
A rule fires when a counted call ran its node and the node's counter is then at or over the
threshold, so a resume that leaves a counter over its threshold pauses again on the next call
that runs the node, never at once.

The counting itself is atomic elsewhere (execution keeps counters in Redis); these functions
decide from the counts. The stored form is the API's camelCase JSON list:
[{"nodeId": "menu", "threshold": 3, "resetOnResume": false}].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaign_rules.checks import fail
from campaign_rules.proto import AutoPauseRuleMessage, AutoPauseRulesMessage

FIELD = "autoPauseRules"


@dataclass(frozen=True)
class AutoPauseRule:
    node_id: str
    threshold: int
    reset_on_resume: bool = False


@dataclass(frozen=True)
class CounterView:
    """A rule's counter as shown with its execution."""

    node_id: str
    count: int
    threshold: int


# --- parsing and validation ---------------------------------------------------------------------

def from_proto(message: AutoPauseRulesMessage) -> tuple[AutoPauseRule, ...]:
    """The rules of a request, checked on their own (node ids against the flow: `check_nodes`).
    Raises ValidationError naming the field."""
    seen: set[str] = set()
    rules = []
    for i, rule in enumerate(message.rules):
        field = f"{FIELD}[{i}]"
        if not rule.node_id.strip():
            raise fail(f"{field}.nodeId", "must not be empty")
        if rule.threshold < 1:
            raise fail(f"{field}.threshold", "must be at least 1")
        if rule.node_id in seen:
            raise fail(f"{field}.nodeId", f"another rule already counts node '{rule.node_id}'")
        seen.add(rule.node_id)
        rules.append(AutoPauseRule(rule.node_id, rule.threshold, rule.reset_on_resume))
    return tuple(rules)


def check_nodes(rules: Sequence[AutoPauseRule] | None, node_ids: Iterable[str]) -> None:
    """Every rule's node must be a node of the program's flow."""
    nodes = set(node_ids)
    for i, rule in enumerate(rules or ()):
        if rule.node_id not in nodes:
            raise fail(f"{FIELD}[{i}].nodeId", f"node '{rule.node_id}' is not in the program's flow")


def to_proto(rules: Sequence[AutoPauseRule]) -> AutoPauseRulesMessage:
    return AutoPauseRulesMessage(rules=[
        AutoPauseRuleMessage(node_id=r.node_id, threshold=r.threshold, reset_on_resume=r.reset_on_resume)
        for r in rules])


# --- the stored form ----------------------------------------------------------------------------

def from_json(data: Sequence[Mapping[str, Any]] | None) -> tuple[AutoPauseRule, ...] | None:
    """From the stored form; None stays None (no rules given, unlike an empty list). A false
    `resetOnResume` may be left out."""
    if data is None:
        return None
    return tuple(AutoPauseRule(str(r["nodeId"]), int(r["threshold"]), bool(r.get("resetOnResume", False)))
                 for r in data)


def to_json(rules: Sequence[AutoPauseRule]) -> list[dict[str, Any]]:
    return [{"nodeId": r.node_id, "threshold": r.threshold, "resetOnResume": r.reset_on_resume} for r in rules]


# --- evaluation ---------------------------------------------------------------------------------

def rule_nodes(rules: Sequence[AutoPauseRule] | None) -> list[str]:
    return [r.node_id for r in rules or ()]


def node_increments(node_lists: Iterable[Sequence[str]]) -> Counter[str]:
    """Every executed node of every call counts once per execution of it."""
    counts: Counter[str] = Counter()
    for nodes in node_lists:
        counts.update(n for n in nodes if n)
    return counts


def fired_rules(rules: Sequence[AutoPauseRule] | None, touched: Collection[str],
                counts: Mapping[str, int]) -> list[AutoPauseRule]:
    """Rules that pause the execution after a count: a counted call ran the rule's node and its
    counter is at or over the threshold."""
    return [r for r in rules or () if r.node_id in touched and counts.get(r.node_id, 0) >= r.threshold]


def counter_views(rules: Sequence[AutoPauseRule] | None, counts: Mapping[str, int]) -> list[CounterView]:
    """One view per rule, in rule order; a node never counted is at 0."""
    return [CounterView(r.node_id, int(counts.get(r.node_id, 0)), r.threshold) for r in rules or ()]
