"""Auto-pause rules: validation, which rules fire, and what a resume does to them.

The counting itself is atomic in Redis (adapters/node_counters.py); these functions decide
from the counts it answers, so the decisions are pure and unit-tested.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from campaign_rules.limits import CREDITS_PER_CALL
from kernel.errors import ValidationError
from services.execution.domain import status as st
from services.execution.domain.errors import InvalidExecutionStateError

Rule = dict[str, Any]  # API shape: {"nodeId", "threshold", "resetOnResume"}


def validate_rules(rules: Sequence[dict[str, Any]], flow_node_ids: Collection[str]) -> list[Rule]:
    """Rules in API shape; each nodeId must be a node of the flow, threshold >= 1, no node twice."""
    seen: set[str] = set()
    clean = []
    for i, rule in enumerate(rules):
        node_id = str(rule.get("nodeId") or "")
        threshold = int(rule.get("threshold") or 0)
        if not node_id:
            raise ValidationError(f"autoPauseRules[{i}].nodeId: required", field=f"autoPauseRules[{i}].nodeId")
        if node_id not in flow_node_ids:
            raise ValidationError(f"autoPauseRules[{i}].nodeId: not a node of the execution's flow",
                                  field=f"autoPauseRules[{i}].nodeId")
        if node_id in seen:
            raise ValidationError(f"autoPauseRules[{i}].nodeId: duplicate rule for node {node_id}",
                                  field=f"autoPauseRules[{i}].nodeId")
        if threshold < 1:
            raise ValidationError(f"autoPauseRules[{i}].threshold: must be at least 1",
                                  field=f"autoPauseRules[{i}].threshold")
        seen.add(node_id)
        clean.append({"nodeId": node_id, "threshold": threshold,
                      "resetOnResume": bool(rule.get("resetOnResume", False))})
    return clean


def has_rules(rules: Sequence[Rule] | None) -> bool:
    return bool(rules)


def rule_nodes(rules: Sequence[Rule] | None) -> list[str]:
    return [r["nodeId"] for r in rules or ()]


def node_increments(node_lists: Iterable[Sequence[str]]) -> Counter[str]:
    """Every executed node of every call counts once per execution of it."""
    counts: Counter[str] = Counter()
    for nodes in node_lists:
        counts.update(n for n in nodes if n)
    return counts


def fired_rules(rules: Sequence[Rule] | None, touched: Collection[str], counts: Mapping[str, int]) -> list[Rule]:
    """Rules that pause the execution after a count.

    A rule fires when a counted call ran its node and the counter is then at or over the
    threshold. Only a counted node can fire its rule, so a resume that leaves a counter at or
    over its threshold pauses again on the next call that runs the node, never at once.
    """
    return [r for r in rules or () if r["nodeId"] in touched and counts.get(r["nodeId"], 0) >= r["threshold"]]


def counter_views(rules: Sequence[Rule] | None, counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """{nodeId, count, threshold} per rule, in rule order."""
    return [{"nodeId": r["nodeId"], "count": int(counts.get(r["nodeId"], 0)), "threshold": r["threshold"]}
            for r in rules or ()]


@dataclass(frozen=True)
class ResumePlan:
    move: st.Move                  # to running, or to paused_no_credits when credits cannot cover a call
    rules: list[Rule] | None       # the rules in force after the resume
    replace_rules: bool            # the request carried rules
    reset_nodes: list[str]         # counters to set back to zero

    @property
    def target(self) -> str:
        return self.move.target


def check_resumable(status: str) -> None:
    if status not in st.PAUSED_STATES:
        raise InvalidExecutionStateError(
            "Execution is not in paused, paused_no_credits, or paused_threshold state")


def plan_resume(current_status: str, current_rules: Sequence[Rule] | None, new_rules: Sequence[Rule] | None,
                credits_available: int | None) -> ResumePlan:
    """What a resume does.

    - only from paused, paused_no_credits, paused_threshold;
    - rules given in the request replace the execution's rules before resuming, so their
      resetOnResume flags decide the reset;
    - counters are reset only when resuming from paused_threshold, for rules with resetOnResume;
    - credits known not to cover one minute keep (or put) the execution in paused_no_credits at
      once; unknown credits (None) resume, and the dialer's reservation still refuses the call.
    """
    check_resumable(current_status)
    replace = new_rules is not None
    rules = list(new_rules) if new_rules is not None else (list(current_rules) if current_rules is not None else None)
    reset = []
    if current_status == st.PAUSED_THRESHOLD:
        reset = [r["nodeId"] for r in rules or () if r.get("resetOnResume")]
    short = credits_available is not None and credits_available < CREDITS_PER_CALL
    # From the status read under the row lock only: the compare-and-set fails if it changed.
    move = (st.RESUME_SHORT if short else st.RESUME).only(current_status)
    return ResumePlan(move, rules, replace, reset)
