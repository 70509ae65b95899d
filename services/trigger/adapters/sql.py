"""SQL text generated from the domain's constants, so a status in SQL is the status of the domain."""

from __future__ import annotations

from collections.abc import Sequence

from services.trigger.domain import status as st


def status_in(statuses: Sequence[str], column: str = "status") -> str:
    """`column = 'a'` or `column IN ('a', 'b')` for statuses of the domain (literals: the partial
    indexes' predicates are written as literals, and only a literal lets the planner use them)."""
    unknown = set(statuses) - set(st.ALL)
    if unknown or not statuses:
        raise ValueError(f"not trigger statuses: {sorted(unknown) or statuses}")
    if len(statuses) == 1:
        return f"{column} = '{statuses[0]}'"
    literals = ", ".join(f"'{s}'" for s in statuses)
    return f"{column} IN ({literals})"
