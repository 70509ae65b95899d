"""SQL of the orchestrator's claims and lease sweep. Every function runs in the caller's transaction.

Lock order as everywhere in this context: execution rows first (ordered by id, SKIP LOCKED
here), then contact rows (SKIP LOCKED): a claim never waits and never deadlocks a writer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# What a dial request needs of its execution, and what decides whether it may call now.
_CONTEXT = """id, organization_id, program_id, flow_id, did_pool, status, timezone, pause_windows,
    scheduled_stop_at, status_version"""


@dataclass(frozen=True)
class Claimable:
    """A running execution locked for a claim: how many more calls it may start, its gate version."""

    free: int
    status_version: int


async def dispatchable(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """Running executions with pending work and free capacity (one query for all).

    An execution with results whose nodes are not counted yet waits: its auto-pause count is
    not known, so a call started now could be past a threshold. A launch not yet confirmed by
    the program service waits too: its program may have been deleted meanwhile.
    """
    result = await conn.execute(text("""
        SELECT id, organization_id, program_id, flow_id, did_pool, timezone, pause_windows,
               scheduled_stop_at, max_concurrent_calls, contacts_in_progress, contacts_pending, updated_at
        FROM executions
        WHERE status = 'running' AND contacts_pending > 0 AND uncounted_results = 0 AND program_confirmed
          AND contacts_in_progress < max_concurrent_calls
          AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        ORDER BY updated_at"""), {"now": now})
    return [dict(r) for r in result.mappings()]


async def lock_claimable(conn: AsyncConnection, execution_ids: Sequence[str], now: datetime) -> dict[str, Claimable]:
    """Lock the executions still running (skipping busy ones); their free capacity and version."""
    result = await conn.execute(text("""
        SELECT id, max_concurrent_calls - contacts_in_progress AS free, status_version FROM executions
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'running' AND uncounted_results = 0 AND program_confirmed
          AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED"""), {"ids": list(execution_ids), "now": now})
    return {str(r[0]): Claimable(int(r[1]), int(r[2])) for r in result if int(r[1]) > 0}


async def claim_due(conn: AsyncConnection, limits: Mapping[str, int], now: datetime,
                    lease_until: datetime) -> list[dict[str, Any]]:
    """Claim due pending contacts of several executions in one statement; attempt + 1."""
    if not limits:
        return []
    ids = list(limits)
    result = await conn.execute(text("""
        WITH lim AS (
            SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:limits AS int[])) AS l(execution_id, n)
        ), picked AS (
            SELECT p.id FROM lim CROSS JOIN LATERAL (
                SELECT c.id FROM execution_contacts c
                WHERE c.execution_id = lim.execution_id AND c.state = 'pending'
                  AND c.next_attempt_at <= :now
                ORDER BY c.next_attempt_at LIMIT lim.n
                FOR UPDATE SKIP LOCKED) p
        )
        UPDATE execution_contacts c SET state = 'in_progress', attempt = c.attempt + 1,
            lease_until = :lease, updated_at = :now
        -- An array, not a join: the planner cannot size the LIMITs above and would hash-join the
        -- whole table; = ANY(array) is one primary-key lookup per claimed row.
        WHERE c.id = ANY(ARRAY(SELECT id FROM picked))
        RETURNING c.execution_id, c.contact_ref, c.contact_id, c.phone, c.country, c.attempt, c.last_outcome"""),
        {"ids": ids, "limits": [limits[i] for i in ids], "now": now, "lease": lease_until})
    return [dict(r) for r in result.mappings()]


# ---------------------------------------------------------------- lease sweep


async def executions_with_expired_leases(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[str]:
    """Executions having in-progress contacts whose lease ran out (oldest leases first); no lock."""
    result = await conn.execute(text("""
        SELECT DISTINCT execution_id FROM (
            SELECT execution_id FROM execution_contacts
            WHERE state = 'in_progress' AND lease_until < :now ORDER BY lease_until LIMIT :limit) expired"""),
        {"now": now, "limit": limit})
    return [str(r[0]) for r in result]


async def lock_for_sweep(conn: AsyncConnection, execution_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The executions locked (busy ones skipped), with what decides whether they may call now."""
    result = await conn.execute(text(f"""
        SELECT {_CONTEXT} FROM executions WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED"""), {"ids": list(execution_ids)})
    return {str(r["id"]): dict(r) for r in result.mappings()}


async def take_expired(conn: AsyncConnection, execution_ids: Sequence[str], now: datetime,
                       limit: int = 500) -> list[dict[str, Any]]:
    """Lock the expired in-progress contacts of these (locked) executions."""
    result = await conn.execute(text("""
        SELECT id, execution_id, contact_ref, contact_id, phone, country, attempt FROM execution_contacts
        WHERE execution_id = ANY(CAST(:ids AS uuid[])) AND state = 'in_progress' AND lease_until < :now
        ORDER BY lease_until LIMIT :limit FOR UPDATE SKIP LOCKED"""),
        {"ids": list(execution_ids), "now": now, "limit": limit})
    return [dict(r) for r in result.mappings()]


async def extend_leases(conn: AsyncConnection, contact_ids: Sequence[int], lease_until: datetime) -> None:
    if not contact_ids:
        return
    await conn.execute(text("UPDATE execution_contacts SET lease_until = :lease WHERE id = ANY(CAST(:ids AS bigint[]))"),
                       {"ids": list(contact_ids), "lease": lease_until})


async def give_back(conn: AsyncConnection, contact_ids: Sequence[int], state: str, outcome: str,
                    now: datetime) -> None:
    """In-progress contacts whose attempt is given back: attempt − 1, `state`, due now."""
    await conn.execute(text("""
        UPDATE execution_contacts SET state = :state, attempt = GREATEST(attempt - 1, 0), lease_until = NULL,
            next_attempt_at = :now, last_outcome = :outcome, updated_at = :now
        WHERE id = ANY(CAST(:ids AS bigint[])) AND state = 'in_progress'"""),
        {"ids": list(contact_ids), "state": state, "outcome": outcome, "now": now})
