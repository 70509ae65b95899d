"""The program's shape: plain values, no I/O.

`ProgramDraft` is what a client asked for (times still strings); `ProgramSpec` is a draft
that passed every pure rule (times parsed, nested values normalised). Nested values
serialise to the API's camelCase JSON, which is also how they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

MODES = ("batch", "live")
STATUSES = ("draft", "active", "archived")
RETRY_TYPES = ("none", "fixed_delay", "scheduled")
DIRECTIONS = ("before", "after")
WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

DEFAULT_TIMEZONE = "UTC"
DEFAULT_MAX_CONCURRENT_CALLS = 10


@dataclass(frozen=True)
class RetryStrategy:
    type: str
    delay_minutes: int = 0
    max_retries: int = 0
    retry_dates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Only the fields of its type, as the API shows them."""
        if self.type == "fixed_delay":
            return {"type": self.type, "delayMinutes": self.delay_minutes, "maxRetries": self.max_retries}
        if self.type == "scheduled":
            return {"type": self.type, "retryDates": list(self.retry_dates)}
        return {"type": self.type}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryStrategy:
        return cls(type=data["type"], delay_minutes=data.get("delayMinutes", 0),
                   max_retries=data.get("maxRetries", 0), retry_dates=tuple(data.get("retryDates", ())))


@dataclass(frozen=True)
class TimeOfDay:
    hour: int
    minute: int

    def minutes(self) -> int:
        return self.hour * 60 + self.minute

    def to_json(self) -> dict[str, int]:
        return {"hour": self.hour, "minute": self.minute}


@dataclass(frozen=True)
class WeeklyWindow:
    start_at: TimeOfDay
    end_at: TimeOfDay

    def to_json(self) -> dict[str, Any]:
        return {"startAt": self.start_at.to_json(), "endAt": self.end_at.to_json()}


@dataclass(frozen=True)
class AdvancedWindow:
    start_at: str
    end_at: str

    def to_json(self) -> dict[str, str]:
        return {"startAt": self.start_at, "endAt": self.end_at}


@dataclass(frozen=True)
class PauseWindows:
    """Days absent from the request are absent here too (None), empty lists stay empty."""

    weekly: dict[str, tuple[WeeklyWindow, ...]] = field(default_factory=dict)
    advanced: tuple[AdvancedWindow, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for day in WEEKDAYS:
            if day in self.weekly:
                out[day] = [w.to_json() for w in self.weekly[day]]
        if self.advanced is not None:
            out["advanced"] = [w.to_json() for w in self.advanced]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PauseWindows:
        weekly = {
            day: tuple(WeeklyWindow(TimeOfDay(**w["startAt"]), TimeOfDay(**w["endAt"])) for w in data[day])
            for day in WEEKDAYS if day in data
        }
        advanced = None
        if "advanced" in data:
            advanced = tuple(AdvancedWindow(w["startAt"], w["endAt"]) for w in data["advanced"])
        return cls(weekly=weekly, advanced=advanced)


@dataclass(frozen=True)
class AutoPauseRule:
    node_id: str
    threshold: int
    reset_on_resume: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "threshold": self.threshold, "resetOnResume": self.reset_on_resume}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutoPauseRule:
        return cls(data["nodeId"], data["threshold"], data.get("resetOnResume", False))


@dataclass(frozen=True)
class TriggerOffset:
    days: int = 0
    hours: int = 0
    minutes: int = 0

    def to_json(self) -> dict[str, int]:
        return {"days": self.days, "hours": self.hours, "minutes": self.minutes}


@dataclass(frozen=True)
class TriggerCondition:
    type: str
    attribute_name: str
    direction: str
    offset: TriggerOffset

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "attributeName": self.attribute_name, "direction": self.direction,
                "offset": self.offset.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TriggerCondition:
        return cls(data["type"], data["attributeName"], data["direction"], TriggerOffset(**data["offset"]))


@dataclass(frozen=True)
class ProgramDraft:
    """A program as a client sent it. Empty strings mean "not given" (proto has no null)."""

    name: str = ""
    mode: str = ""
    audience_id: str = ""
    flow_id: str = ""
    trigger_condition: TriggerCondition | None = None
    start_at: str = ""
    stop_at: str = ""
    did_pool: tuple[str, ...] = ()
    retry_strategy: RetryStrategy | None = None
    pause_windows: PauseWindows | None = None
    auto_pause_rules: tuple[AutoPauseRule, ...] | None = None
    timezone: str | None = None
    max_concurrent_calls: int | None = None


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
