"""The program's rules that need no other service. Each failure names the field in API terms.

The campaign rules (retry strategy, pause windows, auto-pause rules, trigger condition, calling
hours, answering machine) are checked by campaign_rules, the one home of each; this module checks the program's own
fields and keeps the order of the request's fields. Rules needing another context's data (the flow's
nodes, the org's custom attributes) take that data as plain arguments, so they stay pure; the
service fetches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from campaign_rules.answering_machine import AnsweringMachine, NodeStep
from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.checks import between, fail, instant
from campaign_rules.limits import DEFAULT_MAX_CONCURRENT_CALLS, MAX_CONCURRENT_CALLS
from campaign_rules.proto import TriggerConditionMessage
from campaign_rules.trigger_condition import TriggerCondition
from kernel import ids
from kernel.errors import ValidationError
from services.program.domain.model import BATCH, DEFAULT_TIMEZONE, MODES, ProgramDraft, ProgramSpec

NAME_MAX = 200


def check_name(name: str) -> str:
    stripped = name.strip()
    if not stripped:
        raise fail("name", "must not be empty")
    if len(stripped) > NAME_MAX:
        raise fail("name", f"must be at most {NAME_MAX} characters")
    return stripped


def check_trigger_attribute(condition: TriggerCondition, attribute_types: Mapping[str, str]) -> None:
    """The attribute must be one of the org's custom attributes (by slug), of type date."""
    trigger_condition.check_attribute(condition, attribute_types)


def check_rule_nodes(rules: tuple[AutoPauseRule, ...] | None, node_ids: Iterable[str]) -> None:
    """Every rule's node must be a node of the program's flow."""
    auto_pause.check_nodes(rules, node_ids)


def check_message_node(setting: AnsweringMachine | None, nodes: Mapping[str, NodeStep]) -> None:
    """answeringMachine.messageNodeId must start a say chain of the program's flow ending in a hangup."""
    answering_machine.check_message_node(setting, nodes)


def check_did_pool(did_pool: tuple[str, ...]) -> tuple[str, ...]:
    if not did_pool:
        raise fail("didPool", "at least one DID is required")
    seen: set[str] = set()
    out = []
    for i, did in enumerate(did_pool):
        normal = ids.text(did, ValidationError, field=f"didPool[{i}]")
        if normal in seen:
            raise fail(f"didPool[{i}]", "duplicate DID id")
        seen.add(normal)
        out.append(normal)
    return tuple(out)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str | None) -> str:
    if name is None:
        return DEFAULT_TIMEZONE
    if name not in _zones():
        raise fail("timezone", f"unknown IANA time zone '{name}'")
    return name


def check_max_concurrent_calls(value: int | None) -> int:
    if value is None:
        return DEFAULT_MAX_CONCURRENT_CALLS
    between("maxConcurrentCalls", value, MAX_CONCURRENT_CALLS)
    return value


def check_mode(mode: str, audience_id: str, condition: TriggerConditionMessage | None) -> str:
    mode = mode or BATCH
    if mode not in MODES:
        raise fail("mode", "must be batch or live")
    if mode == BATCH:
        if not audience_id:
            raise fail("audienceId", "is required for batch programs")
        if condition is not None:
            raise fail("triggerCondition", "must not be set for batch programs")
    elif condition is None:
        raise fail("triggerCondition", "is required for live programs")
    return mode


def check_schedule(start_at: str, stop_at: str) -> tuple[datetime, datetime | None]:
    if not start_at:
        raise fail("startAt", "is required")
    start = instant("startAt", start_at)
    stop = instant("stopAt", stop_at) if stop_at else None
    if stop is not None and stop <= start:
        raise fail("stopAt", "must be after startAt")
    return start, stop


def check_program(draft: ProgramDraft) -> ProgramSpec:
    """Every rule that needs no other service, in the order of the request's fields."""
    name = check_name(draft.name)
    mode = check_mode(draft.mode, draft.audience_id, draft.trigger_condition)
    audience_id = ids.text(draft.audience_id, ValidationError, field="audienceId") if draft.audience_id else None
    condition = (trigger_condition.from_proto(draft.trigger_condition)
                 if draft.trigger_condition is not None else None)
    if not draft.flow_id:
        raise fail("flowId", "is required")
    flow_id = ids.text(draft.flow_id, ValidationError, field="flowId")
    start, stop = check_schedule(draft.start_at, draft.stop_at)
    did_pool = check_did_pool(draft.did_pool)
    if draft.retry_strategy is None:
        raise fail("retryStrategy", "is required")
    strategy = retry.from_proto(draft.retry_strategy)
    windows = pause_windows.from_proto(draft.pause_windows) if draft.pause_windows is not None else None
    rules = auto_pause.from_proto(draft.auto_pause_rules) if draft.auto_pause_rules is not None else None
    timezone = check_timezone(draft.timezone)
    max_calls = check_max_concurrent_calls(draft.max_concurrent_calls)
    hours = calling_hours.from_proto(draft.calling_hours) if draft.calling_hours is not None else None
    machine = (answering_machine.from_proto(draft.answering_machine)
               if draft.answering_machine is not None else None)
    return ProgramSpec(
        name=name, mode=mode, audience_id=audience_id, flow_id=flow_id, trigger_condition=condition,
        start_at=start, stop_at=stop, did_pool=did_pool, retry_strategy=strategy, pause_windows=windows,
        auto_pause_rules=rules, timezone=timezone, max_concurrent_calls=max_calls, calling_hours=hours,
        answering_machine=machine,
    )
