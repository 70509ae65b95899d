"""The bodies of /api/programs: request and response models, and their translation to and from
the program service's messages. Business rules live in the program service."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from google.protobuf import json_format
from pydantic import Field

from campaign_rules.public_json import auto_pause_rules_json
from gateway.models import ApiModel, ApiResponse, AutoPauseRuleIn, Int32, to_proto
from gateway.routes.window_bodies import (
    CALLING_HOURS_DOC,
    CallingHoursIn,
    CallingHoursOut,
    WeekIn,
    WeekOut,
    calling_hours_json,
    week_json,
)
from kernel import errors
from outbound.program.v1 import program_pb2 as pb

TIMEZONE_DOC = "IANA time zone name (e.g. 'Europe/Paris'); weekly pause windows are read in it. Default 'UTC'."
MAX_CALLS_DOC = "Most calls of this program in flight at once, 1-1000. Default 10."
ANSWERING_MACHINE_DOC = ("Answering-machine handling: with detect true a call answered by a machine ends at once "
                         "(onMachine hangup) or is left the message starting at messageNodeId (leave_message, a "
                         "chain of say nodes ending in a hangup); outcome voicemail. countAsReached (leave_message "
                         "only): a message left completes the contact. null: no detection.")
RETRY_ON_DOC = ("Outcomes retried: a non-empty subset of busy, no_answer, failed, voicemail, no duplicates. "
                "Default: all four. Another outcome ends the contact as failed; invalid_number is never retried.")


# ---------------------------------------------------------------- request models


class PauseWindowAdvancedItemIn(ApiModel):
    start_at: str = Field(description="ISO 8601 instant")
    end_at: str = Field(description="ISO 8601 instant after startAt")


class PauseWindowsIn(WeekIn):
    advanced: list[PauseWindowAdvancedItemIn] | None = Field(None, description="Absolute date ranges")


class RetryNoneIn(ApiModel):
    type: Literal["none"]


class RetryFixedDelayIn(ApiModel):
    type: Literal["fixed_delay"]
    delay_minutes: Int32 = Field(description="1-10080")
    max_retries: Int32 = Field(description="0-20")
    retry_on: list[str] | None = Field(None, description=RETRY_ON_DOC)


class RetryScheduledIn(ApiModel):
    type: Literal["scheduled"]
    retry_dates: list[str] = Field(description="1-20 ISO 8601 instants, strictly increasing")
    retry_on: list[str] | None = Field(None, description=RETRY_ON_DOC)


RetryStrategyIn = Annotated[RetryNoneIn | RetryFixedDelayIn | RetryScheduledIn, Field(discriminator="type")]


class TriggerOffsetIn(ApiModel):
    days: Int32 = Field(description=">= 0")
    hours: Int32 = Field(description="0-23")
    minutes: Int32 = Field(description="0-59")


class TriggerConditionIn(ApiModel):
    type: Literal["date"]
    attribute_name: str = Field(description="Slug of a custom attribute of type date")
    direction: Literal["before", "after"]
    offset: TriggerOffsetIn


class AnsweringMachineIn(ApiModel):
    detect: bool = Field(description="Listen for a machine when a call is answered")
    on_machine: Literal["hangup", "leave_message"] | None = Field(None, description="Required when detect is true")
    message_node_id: str | None = Field(None, description="leave_message only: the first say node of the message")
    count_as_reached: bool = Field(False, description="leave_message only: a message left completes the contact")


class CreateProgramRequest(ApiModel):
    name: str = Field(description="1-200 characters")
    mode: Literal["batch", "live"] = "batch"
    audience_id: str | None = Field(None, description="Required for batch; optional for live (auto-created)")
    trigger_condition: TriggerConditionIn | None = Field(None, description="Required for live, absent for batch")
    flow_id: str
    start_at: str
    stop_at: str | None = None
    did_pool: list[str]
    retry_strategy: RetryStrategyIn
    pause_windows: PauseWindowsIn | None = None
    auto_pause_rules: list[AutoPauseRuleIn] | None = None
    timezone: str | None = Field(None, description=TIMEZONE_DOC)
    max_concurrent_calls: Int32 | None = Field(None, description=MAX_CALLS_DOC)
    calling_hours: CallingHoursIn | None = Field(None, description=CALLING_HOURS_DOC)
    answering_machine: AnsweringMachineIn | None = Field(None, description=ANSWERING_MACHINE_DOC)


class UpdateProgramRequest(ApiModel):
    """Only the fields sent change. `stopAt`, `pauseWindows`, `autoPauseRules`, `callingHours`,
    `answeringMachine` accept null (clears); `timezone` and `maxConcurrentCalls` null restores the
    default. `mode` cannot be changed."""

    name: str | None = None
    audience_id: str | None = None
    flow_id: str | None = None
    start_at: str | None = None
    stop_at: str | None = None
    did_pool: list[str] | None = None
    retry_strategy: RetryStrategyIn | None = None
    pause_windows: PauseWindowsIn | None = None
    auto_pause_rules: list[AutoPauseRuleIn] | None = None
    trigger_condition: TriggerConditionIn | None = None
    timezone: str | None = Field(None, description=TIMEZONE_DOC)
    max_concurrent_calls: Int32 | None = Field(None, description=MAX_CALLS_DOC)
    calling_hours: CallingHoursIn | None = Field(None, description=CALLING_HOURS_DOC)
    answering_machine: AnsweringMachineIn | None = Field(None, description=ANSWERING_MACHINE_DOC)


# ---------------------------------------------------------------- response models


class PauseWindowAdvancedItemOut(ApiResponse):
    start_at: str
    end_at: str


class PauseWindowsOut(WeekOut):
    advanced: list[PauseWindowAdvancedItemOut] | None = None


class RetryNoneOut(ApiResponse):
    type: Literal["none"]


class RetryFixedDelayOut(ApiResponse):
    type: Literal["fixed_delay"]
    delay_minutes: int
    max_retries: int
    retry_on: list[str] | None = Field(None, description="Present only when given. " + RETRY_ON_DOC)


class RetryScheduledOut(ApiResponse):
    type: Literal["scheduled"]
    retry_dates: list[str]
    retry_on: list[str] | None = Field(None, description="Present only when given. " + RETRY_ON_DOC)


RetryStrategyOut = Annotated[RetryNoneOut | RetryFixedDelayOut | RetryScheduledOut, Field(discriminator="type")]


class AutoPauseRuleOut(ApiResponse):
    node_id: str
    threshold: int
    reset_on_resume: bool


class TriggerOffsetOut(ApiResponse):
    days: int
    hours: int
    minutes: int


class TriggerConditionOut(ApiResponse):
    type: Literal["date"]
    attribute_name: str
    direction: Literal["before", "after"]
    offset: TriggerOffsetOut


class DidPoolItemOut(ApiResponse):
    id: str
    number: str = Field(description="E.164")
    country: str = Field(description="ISO 3166 alpha-2")


class AnsweringMachineOut(ApiResponse):
    detect: bool
    on_machine: Literal["hangup", "leave_message"] | None
    message_node_id: str | None
    count_as_reached: bool


class ProgramResponse(ApiResponse):
    id: str
    name: str
    mode: Literal["batch", "live"]
    organization_id: str
    audience_id: str = Field(description="Given at creation (batch) or auto-created (live)")
    flow_id: str
    status: Literal["draft", "active", "archived"]
    trigger_condition: TriggerConditionOut | None = Field(description="null for batch programs")
    start_at: str
    stop_at: str | None
    did_pool: list[DidPoolItemOut] = Field(description="Resolved DIDs; deleted ones are left out")
    retry_strategy: RetryStrategyOut
    pause_windows: PauseWindowsOut | None
    auto_pause_rules: list[AutoPauseRuleOut] | None
    timezone: str = Field(description=TIMEZONE_DOC)
    max_concurrent_calls: int = Field(description=MAX_CALLS_DOC)
    calling_hours: CallingHoursOut | None = Field(description=CALLING_HOURS_DOC)
    answering_machine: AnsweringMachineOut | None = Field(description=ANSWERING_MACHINE_DOC)
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- translation

def program_json(p: pb.Program) -> dict[str, Any]:
    """The API's ProgramResponse, field by field (null where the contract says null)."""
    rs = p.retry_strategy
    retry: dict[str, Any] = {"type": rs.type}
    if rs.type == "fixed_delay":
        retry.update(delayMinutes=rs.delay_minutes, maxRetries=rs.max_retries)
    elif rs.type == "scheduled":
        retry["retryDates"] = list(rs.retry_dates)
    if rs.type in ("fixed_delay", "scheduled") and rs.HasField("retry_on"):
        retry["retryOn"] = list(rs.retry_on.outcomes)
    windows = None
    if p.HasField("pause_windows"):
        windows = week_json(p.pause_windows)
        if len(p.pause_windows.advanced):
            windows["advanced"] = [{"startAt": w.start_at, "endAt": w.end_at} for w in p.pause_windows.advanced]
    condition = None
    if p.HasField("trigger_condition"):
        tc = p.trigger_condition
        condition = {"type": tc.type, "attributeName": tc.attribute_name, "direction": tc.direction,
                     "offset": {"days": tc.offset.days, "hours": tc.offset.hours, "minutes": tc.offset.minutes}}
    return {
        "id": p.id, "name": p.name, "mode": p.mode, "organizationId": p.organization_id,
        "audienceId": p.audience_id, "flowId": p.flow_id, "status": p.status, "triggerCondition": condition,
        "startAt": p.start_at, "stopAt": p.stop_at or None,
        "didPool": [{"id": d.id, "number": d.number, "country": d.country} for d in p.did_pool],
        "retryStrategy": retry, "pauseWindows": windows, "autoPauseRules": auto_pause_rules_json(p),
        "timezone": p.timezone, "maxConcurrentCalls": p.max_concurrent_calls,
        "callingHours": calling_hours_json(p), "answeringMachine": answering_machine_json(p),
        "createdAt": p.created_at, "updatedAt": p.updated_at,
    }


def answering_machine_json(p: pb.Program) -> dict[str, Any] | None:
    """A program's answeringMachine as answered: null when unset, every field otherwise."""
    if not p.HasField("answering_machine"):
        return None
    am = p.answering_machine
    return {"detect": am.detect, "onMachine": am.on_machine or None, "messageNodeId": am.message_node_id or None,
            "countAsReached": am.count_as_reached}


def program_input(data: dict[str, Any]) -> pb.ProgramInput:
    """Request body (API names, nulls dropped) → ProgramInput."""
    data = {k: v for k, v in data.items() if v is not None}
    if "autoPauseRules" in data:
        data["autoPauseRules"] = {"rules": data["autoPauseRules"]}
    if "pauseWindows" in data:
        data["pauseWindows"] = {k: v for k, v in data["pauseWindows"].items() if v is not None}
    retry_on = data.get("retryStrategy", {}).get("retryOn")
    if retry_on is not None:
        # A wrapper message, so that an empty list reaches the program service (which refuses it).
        data["retryStrategy"] = {**data["retryStrategy"], "retryOn": {"outcomes": retry_on}}
    hours = data.get("callingHours")
    if hours is not None and hours.get("windows") is not None:
        data["callingHours"] = {**hours, "windows": {k: v for k, v in hours["windows"].items() if v is not None}}
    try:
        return to_proto(data, pb.ProgramInput())
    except json_format.ParseError as exc:
        # Values pydantic accepts but protobuf cannot hold (e.g. integers beyond 32 bits).
        match = re.search(r"parse (\w+) field", str(exc))
        field = match.group(1) if match else None
        raise errors.ValidationError(f"{field}: value out of range" if field else "value out of range",
                                     field=field) from None
