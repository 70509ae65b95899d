"""SQL of the status change log (execution_status_changes). Every function runs inside the
caller's transaction.

The log is written by a PostgreSQL trigger on executions (migration 0006), never from here: every
statement that changes a status lands there in its own transaction, whatever code path ran it.
This module only reads it, marks what was published and trims what is old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from services.execution.adapters.executions import ExecutionRow, execution_row
from services.execution.adapters.tables import EXECUTION_COLUMNS

# The snapshot (the executions row as JSON) read back as a typed executions record.
_SNAPSHOT_COLUMNS = ", ".join(f"s.{c.strip()}" for c in EXECUTION_COLUMNS.split(","))
_SELECT = f"""
    SELECT c.seq AS change_seq, c.previous_status AS change_previous_status, c.status AS change_status,
           c.occurred_at AS change_occurred_at, {_SNAPSHOT_COLUMNS}
    FROM execution_status_changes c
    CROSS JOIN LATERAL jsonb_populate_record(NULL::executions, c.snapshot) AS s"""


@dataclass(frozen=True)
class StatusChange:
    seq: int
    previous_status: str | None  # None: the execution was created with `status`
    status: str
    occurred_at: datetime  # the virtual clock's time of the change
    execution: ExecutionRow  # as it was at the commit of the change


def _change(row: RowMapping) -> StatusChange:
    return StatusChange(int(row["change_seq"]), row["change_previous_status"], row["change_status"],
                        row["change_occurred_at"], execution_row(row))


async def list_changes(conn: AsyncConnection, execution_id: str, after_seq: int, limit: int) -> list[StatusChange]:
    """The execution's changes after `after_seq`, oldest first."""
    result = await conn.execute(text(f"""{_SELECT}
        WHERE c.execution_id = CAST(:id AS uuid) AND c.seq > :after ORDER BY c.seq LIMIT :limit"""),
        {"id": execution_id, "after": after_seq, "limit": limit})
    return [_change(r) for r in result.mappings()]


async def claim_unpublished(conn: AsyncConnection, limit: int) -> list[StatusChange]:
    """Changes not published yet, oldest first, locked; those another replica holds are skipped."""
    result = await conn.execute(text(f"""{_SELECT}
        WHERE c.seq IN (SELECT seq FROM execution_status_changes WHERE NOT published ORDER BY seq
                        LIMIT :limit FOR UPDATE SKIP LOCKED)
        ORDER BY c.seq"""), {"limit": limit})
    return [_change(r) for r in result.mappings()]


async def mark_published(conn: AsyncConnection, seqs: list[int]) -> None:
    if seqs:
        await conn.execute(text("""
            UPDATE execution_status_changes SET published = true, published_at = now()
            WHERE seq = ANY(CAST(:seqs AS bigint[]))"""), {"seqs": seqs})


async def trim_published(conn: AsyncConnection, keep: timedelta, limit: int = 1000) -> int:
    """Delete published changes older than `keep` (real time since publication); how many went."""
    result = await conn.execute(text("""
        DELETE FROM execution_status_changes WHERE seq IN (
            SELECT seq FROM execution_status_changes WHERE published AND published_at < now() - :keep
            ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED)"""), {"keep": keep, "limit": limit})
    return result.rowcount or 0
