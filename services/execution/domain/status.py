"""Execution statuses, the transitions between them, and every status change production makes.

Each change production performs is a `Move` declared below and checked against TRANSITIONS
when this module loads; the repository takes a Move (never a hand-written set of statuses)
for its compare-and-set, so the table is what the code obeys.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel.transitions import Transitions

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


_TABLE = Transitions(ALL, TRANSITIONS)
can_transition = _TABLE.allows
sources = _TABLE.sources  # every status from which a target may be reached, in ALL order


def is_active(status: str) -> bool:
    return status in ACTIVE


def is_terminal(status: str) -> bool:
    return status in TERMINAL


@dataclass(frozen=True)
class Move:
    """A status change: an execution in one of `sources` goes to `target` (compare-and-set)."""

    sources: tuple[str, ...]
    target: str

    def only(self, current: str) -> Move:
        """This change from `current` alone (a status read under the row lock)."""
        if current not in self.sources:
            raise ValueError(f"{current} → {self.target} is not a change of this move")
        return Move((current,), self.target)


def move(target: str, *among: str) -> Move:
    """The change to `target` from `among` (default: every status the table lets reach it)."""
    allowed = sources(target)
    wrong = [s for s in among if s not in allowed]
    if wrong:
        raise ValueError(f"{wrong} → {target} is not in TRANSITIONS")
    return Move(among or allowed, target)


# Every status change production performs.
START = move(RUNNING, SCHEDULED)                    # a scheduled execution's startAt has come
COMPLETE = move(COMPLETED, RUNNING)                 # a batch execution with nothing left to call
STOP = move(STOPPED)                                # stopAt has passed (any active status)
CANCEL = move(CANCELLED)                            # cancel, program deleted or archived, launch failed
PAUSE = move(PAUSED)                                # a manual pause (from running)
CREDIT_PAUSE = move(PAUSED_NO_CREDITS, RUNNING)     # a call refused for lack of credits
THRESHOLD_PAUSE = move(PAUSED_THRESHOLD)            # an auto-pause rule fired (from running)
RESUME = move(RUNNING, *PAUSED_STATES)              # a resume (not a start: scheduled is not resumable)
RESUME_SHORT = move(PAUSED_NO_CREDITS, *PAUSED_STATES)  # a resume while credits cannot cover a call
MOVES = (START, COMPLETE, STOP, CANCEL, PAUSE, CREDIT_PAUSE, THRESHOLD_PAUSE, RESUME, RESUME_SHORT)
