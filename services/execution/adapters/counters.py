"""SQL of an execution's progress counters. Every function runs inside the caller's transaction,
the one that moves the contacts they count: the counters never drift from the contacts (a
CHECK keeps total = the sum of the others)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.execution.domain import contacts as ct

# The state counters, and the share of contacts_skipped that the do-not-call list skipped.
SKIPPED_DNC = "contacts_skipped_dnc"
COUNTER_COLUMNS = (*(ct.COUNTER[state] for state in ct.STATES), SKIPPED_DNC)


async def apply_counter_deltas(conn: AsyncConnection, deltas: Mapping[str, Mapping[str, int]],
                               now: datetime) -> None:
    """deltas: execution id → {counter column: change}; one statement for all executions."""
    if not deltas:
        return
    ids = list(deltas)
    columns = {c: [int(deltas[i].get(c, 0)) for i in ids] for c in COUNTER_COLUMNS}
    sets = ", ".join(f"{c} = e.{c} + d.{c}" for c in COUNTER_COLUMNS)
    await conn.execute(text(f"""
        UPDATE executions e SET {sets}, updated_at = :now
        FROM unnest(CAST(:ids AS uuid[]), {', '.join(f'CAST(:{c} AS int[])' for c in COUNTER_COLUMNS)})
             AS d(id, {', '.join(COUNTER_COLUMNS)})
        WHERE e.id = d.id"""), {"ids": ids, "now": now, **columns})


async def count_live_contacts(conn: AsyncConnection, added: Mapping[str, int], now: datetime) -> None:
    """Execution id → contacts just added: total and pending grow together."""
    if not added:
        return
    ids = list(added)
    await conn.execute(text("""
        UPDATE executions e SET total_contacts = e.total_contacts + a.n, contacts_pending = e.contacts_pending + a.n,
            updated_at = :now
        FROM unnest(CAST(:ids AS uuid[]), CAST(:ns AS int[])) AS a(id, n) WHERE e.id = a.id"""),
        {"ids": ids, "ns": [added[i] for i in ids], "now": now})
