"""What a launch takes from its program, and the rules deciding whether and how it starts.

An execution is a snapshot: the program as read at launch (its DIDs, rules, time zone, cap)
is copied into it, and later edits of the program never change it. The campaign rules travel
as campaign_rules values, parsed once from the program's answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from campaign_rules.answering_machine import AnsweringMachine
from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.calling_hours import CallingHours
from campaign_rules.limits import DEFAULT_MAX_CONCURRENT_CALLS
from campaign_rules.pause_windows import PauseWindows
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import TriggerCondition
from kernel.errors import ValidationError
from services.execution.domain import status as st
from services.execution.domain.errors import EmptyDidPoolError, ProgramNotFoundError

LIVE = "live"
BATCH = "batch"
ARCHIVED = "archived"  # a program's status once deleted


@dataclass(frozen=True)
class ProgramSnapshot:
    """The program as the program service answered it; None: the program has no such rule."""

    id: str
    organization_id: str
    status: str
    mode: str
    audience_id: str
    flow_id: str
    timezone: str
    start_at: datetime | None
    stop_at: datetime | None
    did_ids: tuple[str, ...]
    max_concurrent_calls: int
    retry_strategy: RetryStrategy
    pause_windows: PauseWindows | None
    auto_pause_rules: tuple[AutoPauseRule, ...] | None
    trigger_condition: TriggerCondition | None
    calling_hours: CallingHours | None = None
    answering_machine: AnsweringMachine | None = None

    @property
    def live(self) -> bool:
        return self.mode == LIVE


def check_launchable(program: ProgramSnapshot, now: datetime) -> None:
    """An archived (deleted) program is not found; one whose stopAt has passed cannot run."""
    if program.status == ARCHIVED:
        raise ProgramNotFoundError()
    if program.stop_at is not None and program.stop_at <= now:
        raise ValidationError("stopAt: the program's stop time has already passed", field="stopAt")


def usable_pool(did_ids: Sequence[str], usable: Collection[str]) -> list[str]:
    """The program's DIDs still usable (neither deleted nor inactive), in program order, once each."""
    pool = [did for did in dict.fromkeys(did_ids) if did in usable]
    if not pool:
        raise EmptyDidPoolError()
    return pool


@dataclass(frozen=True)
class Start:
    """How a launched execution starts: its status, start time and the rules it snapshots."""

    status: str
    start_at: datetime
    started_at: datetime | None
    mode: str
    timezone: str
    max_concurrent_calls: int
    retry_strategy: RetryStrategy
    trigger_condition: TriggerCondition | None


def plan_start(program: ProgramSnapshot, now: datetime) -> Start:
    """Running at once unless startAt is still to come (scheduled); the program's defaults filled in."""
    start_at = program.start_at or now
    running = start_at <= now
    return Start(
        status=st.RUNNING if running else st.SCHEDULED, start_at=start_at, started_at=now if running else None,
        mode=LIVE if program.live else BATCH, timezone=program.timezone or "UTC",
        max_concurrent_calls=program.max_concurrent_calls or DEFAULT_MAX_CONCURRENT_CALLS,
        retry_strategy=program.retry_strategy,
        # Only a live execution fires triggers.
        trigger_condition=program.trigger_condition if program.live else None)
