"""Program statuses and the transitions between them: a draft becomes active at its first launch,
and a draft or active program may be archived, once; an archived program never changes again."""

from __future__ import annotations

DRAFT = "draft"
ACTIVE = "active"
ARCHIVED = "archived"
ALL = (DRAFT, ACTIVE, ARCHIVED)

TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({ACTIVE, ARCHIVED}),
    ACTIVE: frozenset({ARCHIVED}),
    ARCHIVED: frozenset(),
}


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources(target: str) -> tuple[str, ...]:
    """Every status from which `target` may be reached (the update's allowed set)."""
    return tuple(s for s in ALL if target in TRANSITIONS[s])
