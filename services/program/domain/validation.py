"""The program's rules that need no other service. Each failure names the field in API terms.

Rules needing another context's data (the flow's nodes, the org's custom attributes) take
that data as plain arguments, so they stay pure; the service fetches it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from kernel.errors import ValidationError
from kernel.timefmt import RANGE_MESSAGE, InvalidTimestamp, TimestampOutOfRange, iso, parse_iso
from services.program.domain.model import (
    DEFAULT_MAX_CONCURRENT_CALLS,
    DEFAULT_TIMEZONE,
    DIRECTIONS,
    MODES,
    RETRY_TYPES,
    WEEKDAYS,
    AdvancedWindow,
    AutoPauseRule,
    PauseWindows,
    ProgramDraft,
    ProgramSpec,
    RetryStrategy,
    TimeOfDay,
    TriggerCondition,
    WeeklyWindow,
)

NAME_MAX = 200
DELAY_MINUTES = (1, 10080)
MAX_RETRIES = (0, 20)
RETRY_DATES = (1, 20)
MAX_CONCURRENT_CALLS = (1, 1000)
# Not in the contract; keeps trigger arithmetic inside the calendar (ten years).
OFFSET_DAYS_MAX = 3650


def fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", field=field)


def _between(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise fail(field, f"must be between {low} and {high}")


def parse_time(field: str, value: str) -> datetime:
    try:
        return parse_iso(value)
    except TimestampOutOfRange:
        raise fail(field, RANGE_MESSAGE) from None
    except InvalidTimestamp:
        raise fail(field, "must be an ISO 8601 date-time") from None


def check_uuid(field: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise fail(field, "must be a UUID") from None


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def check_name(name: str) -> str:
    stripped = name.strip()
    if not stripped:
        raise fail("name", "must not be empty")
    if len(stripped) > NAME_MAX:
        raise fail("name", f"must be at most {NAME_MAX} characters")
    return stripped


def check_retry_strategy(strategy: RetryStrategy | None) -> RetryStrategy:
    """Normalised: only the fields of its type survive; retry dates as canonical ISO."""
    field = "retryStrategy"
    if strategy is None:
        raise fail(field, "is required")
    if strategy.type not in RETRY_TYPES:
        raise fail(f"{field}.type", "must be one of none, fixed_delay, scheduled")
    if strategy.type == "none":
        return RetryStrategy("none")
    if strategy.type == "fixed_delay":
        _between(f"{field}.delayMinutes", strategy.delay_minutes, DELAY_MINUTES)
        _between(f"{field}.maxRetries", strategy.max_retries, MAX_RETRIES)
        return RetryStrategy("fixed_delay", strategy.delay_minutes, strategy.max_retries)
    dates = strategy.retry_dates
    low, high = RETRY_DATES
    if not low <= len(dates) <= high:
        raise fail(f"{field}.retryDates", f"must hold between {low} and {high} dates")
    parsed = [parse_time(f"{field}.retryDates[{i}]", d) for i, d in enumerate(dates)]
    for i in range(1, len(parsed)):
        if parsed[i] <= parsed[i - 1]:
            raise fail(f"{field}.retryDates[{i}]", f"must be after retryDates[{i - 1}]")
    return RetryStrategy("scheduled", retry_dates=tuple(iso(d) for d in parsed))


def _check_time_of_day(field: str, value: TimeOfDay) -> None:
    _between(f"{field}.hour", value.hour, (0, 23))
    _between(f"{field}.minute", value.minute, (0, 59))


def check_pause_windows(windows: PauseWindows | None) -> PauseWindows | None:
    """Weekly items: end before start wraps past midnight; equal start and end is refused."""
    if windows is None:
        return None
    for day in windows.weekly:
        if day not in WEEKDAYS:
            raise fail(f"pauseWindows.{day}", "unknown day")
    for day in WEEKDAYS:
        for i, item in enumerate(windows.weekly.get(day, ())):
            field = f"pauseWindows.{day}[{i}]"
            _check_time_of_day(f"{field}.startAt", item.start_at)
            _check_time_of_day(f"{field}.endAt", item.end_at)
            if item.start_at.minutes() == item.end_at.minutes():
                raise fail(f"{field}.endAt", "must differ from startAt")
    advanced = None
    if windows.advanced is not None:
        items = []
        for i, item in enumerate(windows.advanced):
            field = f"pauseWindows.advanced[{i}]"
            start = parse_time(f"{field}.startAt", item.start_at)
            end = parse_time(f"{field}.endAt", item.end_at)
            if end <= start:
                raise fail(f"{field}.endAt", "must be after startAt")
            items.append(AdvancedWindow(iso(start), iso(end)))
        advanced = tuple(items)
    weekly = {day: tuple(WeeklyWindow(w.start_at, w.end_at) for w in windows.weekly[day])
              for day in WEEKDAYS if day in windows.weekly}
    return PauseWindows(weekly=weekly, advanced=advanced)


def check_trigger_condition(condition: TriggerCondition) -> TriggerCondition:
    field = "triggerCondition"
    if condition.type != "date":
        raise fail(f"{field}.type", "must be date")
    if not condition.attribute_name.strip():
        raise fail(f"{field}.attributeName", "must not be empty")
    if condition.direction not in DIRECTIONS:
        raise fail(f"{field}.direction", "must be before or after")
    _between(f"{field}.offset.days", condition.offset.days, (0, OFFSET_DAYS_MAX))
    _between(f"{field}.offset.hours", condition.offset.hours, (0, 23))
    _between(f"{field}.offset.minutes", condition.offset.minutes, (0, 59))
    return condition


def check_trigger_attribute(condition: TriggerCondition, attribute_types: Mapping[str, str]) -> None:
    """The attribute must be one of the org's custom attributes (by slug), of type date."""
    field = "triggerCondition.attributeName"
    kind = attribute_types.get(condition.attribute_name)
    if kind is None:
        raise fail(field, f"no custom attribute '{condition.attribute_name}' in this organization")
    if kind != "date":
        raise fail(field, f"custom attribute '{condition.attribute_name}' is of type {kind}, not date")


def check_auto_pause_rules(rules: tuple[AutoPauseRule, ...] | None) -> tuple[AutoPauseRule, ...] | None:
    if rules is None:
        return None
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        field = f"autoPauseRules[{i}]"
        if not rule.node_id.strip():
            raise fail(f"{field}.nodeId", "must not be empty")
        if rule.threshold < 1:
            raise fail(f"{field}.threshold", "must be at least 1")
        if rule.node_id in seen:
            raise fail(f"{field}.nodeId", f"another rule already counts node '{rule.node_id}'")
        seen.add(rule.node_id)
    return tuple(rules)


def check_rule_nodes(rules: tuple[AutoPauseRule, ...] | None, node_ids: Iterable[str]) -> None:
    """Every rule's node must be a node of the program's flow."""
    nodes = set(node_ids)
    for i, rule in enumerate(rules or ()):
        if rule.node_id not in nodes:
            raise fail(f"autoPauseRules[{i}].nodeId", f"node '{rule.node_id}' is not in the program's flow")


def check_did_pool(did_pool: tuple[str, ...]) -> tuple[str, ...]:
    if not did_pool:
        raise fail("didPool", "at least one DID is required")
    seen: set[str] = set()
    out = []
    for i, did in enumerate(did_pool):
        normal = check_uuid(f"didPool[{i}]", did)
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
    _between("maxConcurrentCalls", value, MAX_CONCURRENT_CALLS)
    return value


def check_mode(mode: str, audience_id: str, condition: TriggerCondition | None) -> str:
    mode = mode or "batch"
    if mode not in MODES:
        raise fail("mode", "must be batch or live")
    if mode == "batch":
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
    start = parse_time("startAt", start_at)
    stop = parse_time("stopAt", stop_at) if stop_at else None
    if stop is not None and stop <= start:
        raise fail("stopAt", "must be after startAt")
    return start, stop


def check_program(draft: ProgramDraft) -> ProgramSpec:
    """Every rule that needs no other service, in the order of the request's fields."""
    name = check_name(draft.name)
    mode = check_mode(draft.mode, draft.audience_id, draft.trigger_condition)
    audience_id = check_uuid("audienceId", draft.audience_id) if draft.audience_id else None
    condition = check_trigger_condition(draft.trigger_condition) if draft.trigger_condition else None
    if not draft.flow_id:
        raise fail("flowId", "is required")
    flow_id = check_uuid("flowId", draft.flow_id)
    start, stop = check_schedule(draft.start_at, draft.stop_at)
    did_pool = check_did_pool(draft.did_pool)
    retry = check_retry_strategy(draft.retry_strategy)
    windows = check_pause_windows(draft.pause_windows)
    rules = check_auto_pause_rules(draft.auto_pause_rules)
    timezone = check_timezone(draft.timezone)
    max_calls = check_max_concurrent_calls(draft.max_concurrent_calls)
    return ProgramSpec(
        name=name, mode=mode, audience_id=audience_id, flow_id=flow_id, trigger_condition=condition,
        start_at=start, stop_at=stop, did_pool=did_pool, retry_strategy=retry, pause_windows=windows,
        auto_pause_rules=rules, timezone=timezone, max_concurrent_calls=max_calls,
    )
