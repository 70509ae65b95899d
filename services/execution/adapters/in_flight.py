"""Calls in flight per organization, and the lock that makes dispatch passes take turns.

A dispatch pass (any replica) takes the advisory lock first thing in its claim transaction and
reads the calls in flight after it, so what it reads cannot change by another dispatch until it
commits: the dialers' channels and the organizations' concurrency limits are shared exactly,
not once per replica. Nothing else takes this lock, so it cannot deadlock with the execution
row locks taken after it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

DISPATCH_LOCK = 0x0B0D_D15C  # pg_advisory_xact_lock key of the dispatch passes


async def take_dispatch_turn(conn: AsyncConnection) -> None:
    """Waits for any other dispatch pass to commit; released with this transaction."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DISPATCH_LOCK})


async def by_organization(conn: AsyncConnection) -> dict[str, int]:
    """Attempts in progress (claimed, queued or on a call) per organization, every execution."""
    result = await conn.execute(text("""
        SELECT organization_id, sum(contacts_in_progress) FROM executions
        WHERE contacts_in_progress > 0 GROUP BY organization_id"""))
    return {str(r[0]): int(r[1]) for r in result}
