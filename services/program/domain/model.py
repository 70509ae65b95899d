"""The program's shape: plain values, no I/O.

`ProgramDraft` is what a client asked for (times still strings, the campaign rules still as the
proto carries them); `ProgramSpec` is a draft that passed every pure rule (times parsed, the
rules as campaign_rules values, which also give their one stored form).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from campaign_rules.answering_machine import AnsweringMachine
from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.calling_hours import CallingHours
from campaign_rules.pause_windows import PauseWindows
from campaign_rules.proto import (
    AnsweringMachineMessage,
    AutoPauseRulesMessage,
    CallingHoursMessage,
    PauseWindowsMessage,
    RetryStrategyMessage,
    TriggerConditionMessage,
)
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import TriggerCondition

BATCH = "batch"
LIVE = "live"
MODES = (BATCH, LIVE)

DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class ProgramDraft:
    """A program as a client sent it. Empty strings mean "not given" (proto has no null); a rule
    is None when not given."""

    name: str = ""
    mode: str = ""
    audience_id: str = ""
    flow_id: str = ""
    trigger_condition: TriggerConditionMessage | None = None
    start_at: str = ""
    stop_at: str = ""
    did_pool: tuple[str, ...] = ()
    retry_strategy: RetryStrategyMessage | None = None
    pause_windows: PauseWindowsMessage | None = None
    auto_pause_rules: AutoPauseRulesMessage | None = None
    timezone: str | None = None
    max_concurrent_calls: int | None = None
    calling_hours: CallingHoursMessage | None = None
    answering_machine: AnsweringMachineMessage | None = None


@dataclass(frozen=True)
class ProgramSpec:
    """A draft that passed every rule that needs no other service."""

    name: str
    mode: str
    audience_id: str | None
    flow_id: str
    trigger_condition: TriggerCondition | None
    start_at: datetime
    stop_at: datetime | None
    did_pool: tuple[str, ...]
    retry_strategy: RetryStrategy
    pause_windows: PauseWindows | None
    auto_pause_rules: tuple[AutoPauseRule, ...] | None
    timezone: str
    max_concurrent_calls: int
    calling_hours: CallingHours | None = None  # None: no contact-local hours
    answering_machine: AnsweringMachine | None = None  # None: no detection

    def with_audience(self, audience_id: str) -> ProgramSpec:
        return replace(self, audience_id=audience_id)


@dataclass(frozen=True)
class Program:
    """A stored program: its validated configuration plus identity, status and times."""

    id: str
    organization_id: str
    status: str
    spec: ProgramSpec
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DidItem:
    id: str
    number: str
    country: str


@dataclass(frozen=True)
class ProgramView:
    """A program as answered: its DID pool resolved to numbers through the dialer."""

    program: Program
    did_pool: tuple[DidItem, ...]
