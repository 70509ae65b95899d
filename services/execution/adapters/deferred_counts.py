"""SQL of the results whose auto-pause nodes Redis could not count (uncounted_results).

They are kept in the results' own transaction, and `executions.uncounted_results` rises with
them: an execution holding any dispatches nothing until they are counted (its count is not
known). Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.execution.adapters.executions import LockedExecution, locked_execution


@dataclass(frozen=True)
class UncountedCall:
    execution_id: str
    attempt_id: str
    node_ids: tuple[str, ...]


async def defer_counting(conn: AsyncConnection, calls: Sequence[UncountedCall], now: datetime) -> None:
    """Keep calls whose nodes Redis could not count."""
    if not calls:
        return
    result = await conn.execute(text("""
        INSERT INTO uncounted_results (execution_id, attempt_id, node_ids, created_at)
        SELECT e, a, CAST(n AS jsonb), :now
        FROM unnest(CAST(:eids AS uuid[]), CAST(:aids AS text[]), CAST(:nodes AS text[])) AS u(e, a, n)
        ON CONFLICT DO NOTHING RETURNING execution_id"""),
        {"eids": [c.execution_id for c in calls], "aids": [c.attempt_id for c in calls],
         "nodes": [json.dumps(list(c.node_ids)) for c in calls], "now": now})
    added = Counter(str(r[0]) for r in result)
    if added:
        ids = list(added)
        await conn.execute(text("""
            UPDATE executions e SET uncounted_results = e.uncounted_results + d.n
            FROM unnest(CAST(:ids AS uuid[]), CAST(:ns AS int[])) AS d(id, n) WHERE e.id = d.id"""),
            {"ids": ids, "ns": [added[i] for i in ids]})


async def lock_uncounted(conn: AsyncConnection, execution_ids: Sequence[str] | None = None,
                         limit: int = 50) -> dict[str, LockedExecution]:
    """Executions holding uncounted results, locked (busy ones skipped); all of them, or those named."""
    clause = "" if execution_ids is None else " AND id = ANY(CAST(:ids AS uuid[]))"
    result = await conn.execute(text(f"""
        SELECT id, status, retry_strategy, auto_pause_rules FROM executions WHERE uncounted_results > 0{clause}
        ORDER BY id LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""),
        {"ids": list(execution_ids or ()), "limit": limit})
    return {str(r[0]): locked_execution(r) for r in result}


async def any_uncounted(conn: AsyncConnection) -> bool:
    found = await conn.execute(text("SELECT 1 FROM executions WHERE uncounted_results > 0 LIMIT 1"))
    return found.first() is not None


async def uncounted_of(conn: AsyncConnection, execution_ids: Sequence[str]) -> list[UncountedCall]:
    result = await conn.execute(text("""
        SELECT execution_id, attempt_id, node_ids FROM uncounted_results
        WHERE execution_id = ANY(CAST(:ids AS uuid[])) ORDER BY created_at, attempt_id"""),
        {"ids": list(execution_ids)})
    return [UncountedCall(str(r[0]), r[1], tuple(r[2])) for r in result]


async def clear_uncounted(conn: AsyncConnection, execution_ids: Sequence[str]) -> None:
    await conn.execute(text("DELETE FROM uncounted_results WHERE execution_id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(execution_ids)})
    await conn.execute(text("UPDATE executions SET uncounted_results = 0 WHERE id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(execution_ids)})
