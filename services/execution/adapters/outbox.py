"""SQL of the outbox: executions whose after-commit side effects are not confirmed yet.

Flags on the execution row, set in the transaction that makes the side effect due (launch,
end) and cleared once it succeeded; the orchestrator retries until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.execution.adapters.executions import ExecutionRow, execution_row
from services.execution.adapters.tables import EXECUTION_COLUMNS, TERMINAL_SQL


@dataclass(frozen=True)
class OutboxRow:
    execution: ExecutionRow
    launch_notified: bool
    end_notified: bool
    program_confirmed: bool


async def lock_unnotified(conn: AsyncConnection, limit: int = 20) -> list[OutboxRow]:
    """Executions whose side effects are due, locked (busy ones skipped); a launch only once it is
    5 s old (real time), so the outbox does not race the launch still doing them itself."""
    result = await conn.execute(text(f"""
        SELECT {EXECUTION_COLUMNS}, launch_notified, end_notified, program_confirmed FROM executions
        WHERE (NOT launch_notified AND inserted_at < now() - interval '5 seconds')
           OR (NOT end_notified AND status IN {TERMINAL_SQL})
        ORDER BY inserted_at LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""), {"limit": limit})
    return [OutboxRow(execution_row(r), r["launch_notified"], r["end_notified"], r["program_confirmed"])
            for r in result.mappings()]


async def mark_notified(conn: AsyncConnection, execution_id: str, *, launch: bool = False,
                        end: bool = False) -> None:
    sets = []
    if launch:
        sets.append("launch_notified = true")
    if end:
        sets.append("end_notified = true")
    if sets:
        await conn.execute(text(f"UPDATE executions SET {', '.join(sets)} WHERE id = CAST(:id AS uuid)"),
                           {"id": execution_id})
