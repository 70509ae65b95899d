"""Program statuses and the transitions between them: a draft becomes active at its first launch,
and a draft or active program may be archived, once; an archived program never changes again."""

from __future__ import annotations

from kernel.transitions import Transitions

DRAFT = "draft"
ACTIVE = "active"
ARCHIVED = "archived"
ALL = (DRAFT, ACTIVE, ARCHIVED)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({ACTIVE, ARCHIVED}),
    ACTIVE: frozenset({ARCHIVED}),
    ARCHIVED: frozenset(),
}


_TABLE = Transitions(ALL, TRANSITIONS)
can_transition = _TABLE.allows
sources = _TABLE.sources  # every status from which a target may be reached, in ALL order
