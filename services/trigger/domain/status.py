"""Trigger statuses and the transitions between them.

A contact's trigger is created pending (at most one pending per execution and contact); it
fires once (pending → triggered) or is cancelled (pending → cancelled: the execution ended, the
contact was deleted or lost its date). Triggered and cancelled are final. Moving a pending
trigger to a new date keeps it pending.
"""

from __future__ import annotations

from kernel.transitions import Transitions

PENDING = "pending"
TRIGGERED = "triggered"
CANCELLED = "cancelled"
ALL = (PENDING, TRIGGERED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({TRIGGERED, CANCELLED}),
    TRIGGERED: frozenset(),
    CANCELLED: frozenset(),
}


_TABLE = Transitions(ALL, TRANSITIONS)
can_transition = _TABLE.allows
sources = _TABLE.sources  # every status from which a target may be reached, in ALL order
