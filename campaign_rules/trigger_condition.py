"""Trigger conditions of live programs: call a contact `offset` before or after the date held in
one of its custom attributes.

triggerAt = attributeValue − offset (before) or + offset (after). The condition is of type
`date`; the attribute is named by its slug and must be a date attribute of the organization;
the offset is `days` 0-3650 (ours: keeps the arithmetic inside the calendar), `hours` 0-23 and
`minutes` 0-59. The stored form is the API's camelCase JSON: {"type": "date", "attributeName":
slug, "direction": "before", "offset": {"days", "hours", "minutes"}}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from campaign_rules.checks import between, fail
from campaign_rules.proto import TriggerConditionMessage, TriggerOffsetMessage

FIELD = "triggerCondition"
DATE = "date"
BEFORE = "before"
AFTER = "after"
DIRECTIONS = (BEFORE, AFTER)
OFFSET_DAYS_MAX = 3650


@dataclass(frozen=True)
class Offset:
    days: int = 0
    hours: int = 0
    minutes: int = 0

    def delta(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


@dataclass(frozen=True)
class TriggerCondition:
    """Fire `offset` before or after the contact's date attribute `attribute_slug`."""

    attribute_slug: str
    direction: str
    offset: Offset = field(default_factory=Offset)

    def trigger_at(self, attribute_value: datetime) -> datetime | None:
        """attributeValue − offset (before) or + offset (after); None when out of range."""
        try:
            if self.direction == BEFORE:
                return attribute_value - self.offset.delta()
            return attribute_value + self.offset.delta()
        except OverflowError:
            return None


def from_proto(message: TriggerConditionMessage) -> TriggerCondition:
    """The condition of a request, checked on its own (the attribute against the organization's:
    `check_attribute`). Raises ValidationError naming the field."""
    if message.type != DATE:
        raise fail(f"{FIELD}.type", "must be date")
    if not message.attribute_name.strip():
        raise fail(f"{FIELD}.attributeName", "must not be empty")
    if message.direction not in DIRECTIONS:
        raise fail(f"{FIELD}.direction", "must be before or after")
    offset = message.offset
    between(f"{FIELD}.offset.days", offset.days, (0, OFFSET_DAYS_MAX))
    between(f"{FIELD}.offset.hours", offset.hours, (0, 23))
    between(f"{FIELD}.offset.minutes", offset.minutes, (0, 59))
    return TriggerCondition(message.attribute_name, message.direction,
                            Offset(offset.days, offset.hours, offset.minutes))


def check_attribute(condition: TriggerCondition, attribute_types: Mapping[str, str]) -> None:
    """The attribute must be one of the organization's custom attributes (slug → type), of type date."""
    name = f"{FIELD}.attributeName"
    kind = attribute_types.get(condition.attribute_slug)
    if kind is None:
        raise fail(name, f"no custom attribute '{condition.attribute_slug}' in this organization")
    if kind != DATE:
        raise fail(name, f"custom attribute '{condition.attribute_slug}' is of type {kind}, not date")


def to_proto(condition: TriggerCondition) -> TriggerConditionMessage:
    offset = condition.offset
    return TriggerConditionMessage(
        type=DATE, attribute_name=condition.attribute_slug, direction=condition.direction,
        offset=TriggerOffsetMessage(days=offset.days, hours=offset.hours, minutes=offset.minutes))


def from_json(data: Mapping[str, Any]) -> TriggerCondition:
    """From the stored form. Offset parts at zero (or the whole offset) may be left out."""
    offset = data.get("offset") or {}
    return TriggerCondition(str(data["attributeName"]), str(data["direction"]),
                            Offset(int(offset.get("days", 0)), int(offset.get("hours", 0)),
                                   int(offset.get("minutes", 0))))


def to_json(condition: TriggerCondition) -> dict[str, Any]:
    offset = condition.offset
    return {"type": DATE, "attributeName": condition.attribute_slug, "direction": condition.direction,
            "offset": {"days": offset.days, "hours": offset.hours, "minutes": offset.minutes}}
