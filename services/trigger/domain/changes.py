"""What a contact change does to a live execution's trigger for that contact.

The decision table (for one active live execution whose attribute is `slug`):

| change                                   | pending trigger     | action                      |
|------------------------------------------|---------------------|-----------------------------|
| contact deleted                          | yes / no            | cancel / nothing            |
| attribute not among the changed ones     | any                 | nothing                     |
| attribute removed (null or not a date)   | yes / no            | cancel / nothing            |
| attribute set to the pending value       | yes                 | nothing                     |
| attribute set to another value           | yes                 | move the pending trigger    |
| attribute set, no pending trigger        | no                  | create, unless the last     |
|                                          |                     | fired trigger had this value|

The last rule keeps a redelivered or replayed event from calling a contact twice for the
same date.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from kernel.timefmt import InvalidTimestamp, parse_iso


class Kind(enum.Enum):
    NOTHING = "nothing"
    CREATE = "create"
    MOVE = "move"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Action:
    kind: Kind
    value: datetime | None = None


NOTHING = Action(Kind.NOTHING)
CANCEL = Action(Kind.CANCEL)


class _Absent:
    """The attribute is not among the changed attributes of the event."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()
AttributeChange = _Absent | datetime | None


def read_value(raw: object) -> datetime | None:
    """A changed attribute's new value: a date, or None when removed or not a date."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str):
        return None
    try:
        return parse_iso(raw)
    except InvalidTimestamp:
        return None


def decide(deleted: bool, change: AttributeChange, pending_value: datetime | None,
           last_fired_value: datetime | None) -> Action:
    """The action for one (execution, contact) given the change and the current triggers."""
    if deleted:
        return CANCEL if pending_value is not None else NOTHING
    if isinstance(change, _Absent):
        return NOTHING
    if change is None:
        return CANCEL if pending_value is not None else NOTHING
    if pending_value is not None:
        return NOTHING if pending_value == change else Action(Kind.MOVE, change)
    if last_fired_value is not None and last_fired_value == change:
        return NOTHING
    return Action(Kind.CREATE, change)
