"""Weekly windows in program bodies: the items pause windows and calling hours share (a time of day,
a window), and callingHours itself, with their translation from the program service's messages."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.models import ApiModel, ApiResponse, Int32
from outbound.program.v1 import program_pb2 as pb

CALLING_HOURS_DOC = ("When a contact may be called, in the contact's local time (its timezone, else its number's "
                     "zones, all of which must allow the call). Presets: us_tcpa (every day 08:00-21:00), "
                     "fr_2023 (Monday-Friday 10:00-13:00 and 14:00-20:00); custom takes `windows`. "
                     "Public holidays are not modelled. null: no contact-local hours.")

# The order of the weekday fields in the messages (Sunday first).
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


# ---------------------------------------------------------------- request models


class TimeOfDayIn(ApiModel):
    hour: Int32 = Field(description="0-23")
    minute: Int32 = Field(description="0-59")


class PauseWindowItemIn(ApiModel):
    start_at: TimeOfDayIn
    end_at: TimeOfDayIn = Field(description="Before startAt: the window wraps past midnight. Must differ.")


class WeekIn(ApiModel):
    """Windows per weekday (the shape pause windows and calling hours share)."""

    sunday: list[PauseWindowItemIn] | None = None
    monday: list[PauseWindowItemIn] | None = None
    tuesday: list[PauseWindowItemIn] | None = None
    wednesday: list[PauseWindowItemIn] | None = None
    thursday: list[PauseWindowItemIn] | None = None
    friday: list[PauseWindowItemIn] | None = None
    saturday: list[PauseWindowItemIn] | None = None


class CallingWindowsIn(WeekIn):
    """Allowed windows per weekday, in the contact's local time; at least one window in the week."""


class CallingHoursIn(ApiModel):
    preset: Literal["us_tcpa", "fr_2023", "custom"]
    windows: CallingWindowsIn | None = Field(None, description="Required for custom, refused for a preset")


# ---------------------------------------------------------------- response models


class TimeOfDayOut(ApiResponse):
    hour: int
    minute: int


class PauseWindowItemOut(ApiResponse):
    start_at: TimeOfDayOut
    end_at: TimeOfDayOut


class WeekOut(ApiResponse):
    sunday: list[PauseWindowItemOut] | None = None
    monday: list[PauseWindowItemOut] | None = None
    tuesday: list[PauseWindowItemOut] | None = None
    wednesday: list[PauseWindowItemOut] | None = None
    thursday: list[PauseWindowItemOut] | None = None
    friday: list[PauseWindowItemOut] | None = None
    saturday: list[PauseWindowItemOut] | None = None


class CallingWindowsOut(WeekOut):
    pass


class CallingHoursOut(ApiResponse):
    preset: Literal["us_tcpa", "fr_2023", "custom"]
    windows: CallingWindowsOut | None = Field(None, description="custom only: the days that hold windows")


# ---------------------------------------------------------------- translation


def _time(t: pb.TimeOfDay) -> dict[str, int]:
    return {"hour": t.hour, "minute": t.minute}


def week_json(week: Any) -> dict[str, Any]:
    """The weekdays of a PauseWindows or CallingWindows message that hold windows."""
    return {day: [{"startAt": _time(w.start_at), "endAt": _time(w.end_at)} for w in getattr(week, day)]
            for day in DAYS if len(getattr(week, day))}


def calling_hours_json(p: pb.Program) -> dict[str, Any] | None:
    """A program's callingHours as answered: null when unset, a preset by its name only."""
    if not p.HasField("calling_hours"):
        return None
    hours: dict[str, Any] = {"preset": p.calling_hours.preset}
    if p.calling_hours.HasField("windows"):
        hours["windows"] = week_json(p.calling_hours.windows)
    return hours
