"""What a resume does to an execution's auto-pause rules and status.

The rules themselves (parsing, validation, when one fires, the counters shown) are
campaign_rules.auto_pause; the counting is atomic in Redis (adapters/node_counters.py). Here:
from which statuses a resume is allowed, which rules are in force after it, which counters
restart from zero and where the execution lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.limits import CREDITS_PER_CALL
from services.execution.domain import status as st
from services.execution.domain.errors import InvalidExecutionStateError

Rules = tuple[AutoPauseRule, ...]


@dataclass(frozen=True)
class ResumePlan:
    move: st.Move                  # to running, or to paused_no_credits when credits cannot cover a call
    rules: Rules | None            # the rules in force after the resume (None: none given ever)
    replace_rules: bool            # the request carried rules
    reset_nodes: list[str]         # counters to set back to zero

    @property
    def target(self) -> str:
        return self.move.target


def check_resumable(status: str) -> None:
    if status not in st.PAUSED_STATES:
        raise InvalidExecutionStateError(
            "Execution is not in paused, paused_no_credits, or paused_threshold state")


def plan_resume(current_status: str, current_rules: Sequence[AutoPauseRule] | None,
                new_rules: Sequence[AutoPauseRule] | None, credits_available: int | None) -> ResumePlan:
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
    in_force = new_rules if new_rules is not None else current_rules
    rules = tuple(in_force) if in_force is not None else None
    reset = []
    if current_status == st.PAUSED_THRESHOLD:
        reset = [r.node_id for r in rules or () if r.reset_on_resume]
    short = credits_available is not None and credits_available < CREDITS_PER_CALL
    # From the status read under the row lock only: the compare-and-set fails if it changed.
    move = (st.RESUME_SHORT if short else st.RESUME).only(current_status)
    return ResumePlan(move, rules, replace, reset)
