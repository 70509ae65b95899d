"""Execution statuses and the transitions between them."""

from __future__ import annotations

SCHEDULED = "scheduled"
RUNNING = "running"
PAUSED = "paused"
PAUSED_NO_CREDITS = "paused_no_credits"
PAUSED_THRESHOLD = "paused_threshold"
COMPLETED = "completed"
STOPPED = "stopped"
CANCELLED = "cancelled"

PAUSED_STATES = (PAUSED, PAUSED_NO_CREDITS, PAUSED_THRESHOLD)
# One active execution per program: these statuses hold the program's slot.
ACTIVE = (SCHEDULED, RUNNING, *PAUSED_STATES)
TERMINAL = (COMPLETED, STOPPED, CANCELLED)
ALL = (*ACTIVE, *TERMINAL)

TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({RUNNING, STOPPED, CANCELLED}),
    RUNNING: frozenset({PAUSED, PAUSED_NO_CREDITS, PAUSED_THRESHOLD, COMPLETED, STOPPED, CANCELLED}),
    # A resume while credits cannot cover a call lands in paused_no_credits at once.
    PAUSED: frozenset({RUNNING, PAUSED_NO_CREDITS, STOPPED, CANCELLED}),
    PAUSED_NO_CREDITS: frozenset({RUNNING, PAUSED_NO_CREDITS, STOPPED, CANCELLED}),
    PAUSED_THRESHOLD: frozenset({RUNNING, PAUSED_NO_CREDITS, STOPPED, CANCELLED}),
    COMPLETED: frozenset(),
    STOPPED: frozenset(),
    CANCELLED: frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources(target: str) -> tuple[str, ...]:
    """Every status from which `target` may be reached (the compare-and-set's allowed set)."""
    return tuple(s for s in ALL if target in TRANSITIONS[s])


def is_active(status: str) -> bool:
    return status in ACTIVE


def is_terminal(status: str) -> bool:
    return status in TERMINAL
