"""When a trigger fires: the date attribute moved by the condition's offset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kernel.errors import ValidationError

DIRECTIONS = ("before", "after")


@dataclass(frozen=True)
class Offset:
    days: int = 0
    hours: int = 0
    minutes: int = 0

    def delta(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


@dataclass(frozen=True)
class Condition:
    """A date trigger condition: fire `offset` before or after the contact's date attribute."""

    attribute_slug: str
    direction: str
    offset: Offset

    @staticmethod
    def create(attribute_slug: str, direction: str, days: int, hours: int, minutes: int,
               kind: str = "date") -> Condition:
        if kind not in ("", "date"):
            raise ValidationError("triggerCondition.type: must be 'date'", field="triggerCondition.type")
        if not attribute_slug:
            raise ValidationError("triggerCondition.attributeName: required",
                                  field="triggerCondition.attributeName")
        if direction not in DIRECTIONS:
            raise ValidationError("triggerCondition.direction: must be 'before' or 'after'",
                                  field="triggerCondition.direction")
        if days < 0:
            raise ValidationError("triggerCondition.offset.days: must be >= 0",
                                  field="triggerCondition.offset.days")
        if not 0 <= hours <= 23:
            raise ValidationError("triggerCondition.offset.hours: must be between 0 and 23",
                                  field="triggerCondition.offset.hours")
        if not 0 <= minutes <= 59:
            raise ValidationError("triggerCondition.offset.minutes: must be between 0 and 59",
                                  field="triggerCondition.offset.minutes")
        return Condition(attribute_slug, direction, Offset(days, hours, minutes))

    def trigger_at(self, attribute_value: datetime) -> datetime | None:
        """attributeValue − offset (before) or + offset (after); None when out of range."""
        try:
            if self.direction == "before":
                return attribute_value - self.offset.delta()
            return attribute_value + self.offset.delta()
        except OverflowError:
            return None
