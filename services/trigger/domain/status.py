"""Trigger statuses and the transitions between them.

A contact's trigger is created pending (at most one pending per execution and contact); it
fires once (pending → triggered) or is cancelled (pending → cancelled: the execution ended, the
contact was deleted or lost its date). Triggered and cancelled are final. Moving a pending
trigger to a new date keeps it pending.
"""

from __future__ import annotations

PENDING = "pending"
TRIGGERED = "triggered"
CANCELLED = "cancelled"
ALL = (PENDING, TRIGGERED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({TRIGGERED, CANCELLED}),
    TRIGGERED: frozenset(),
    CANCELLED: frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources(target: str) -> tuple[str, ...]:
    """Every status from which `target` may be reached (the update's allowed set)."""
    return tuple(s for s in ALL if target in TRANSITIONS[s])
