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
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from campaign_rules import answering_machine, calling_hours, pause_windows
from campaign_rules.answering_machine import AnsweringMachine
from campaign_rules.calling_hours import CallingHours
from campaign_rules.pause_windows import PauseWindows
from services.execution.adapters.tables import IN_PROGRESS_SQL, PENDING_SQL, SKIPPED_SQL, literal
from services.execution.domain import status as st

RUNNING_SQL = literal(st.RUNNING)

# What a dial request needs of its execution, what decides whether it may call now, and its capacity.
_CONTEXT = """id, organization_id, program_id, flow_id, did_pool, status, timezone, pause_windows,
    scheduled_stop_at, status_version, max_concurrent_calls, contacts_in_progress, contacts_pending,
    calling_hours, zone_keys, answering_machine"""


@dataclass(frozen=True)
class CallingExecution:
    """An execution as the dispatch and the lease sweep see it."""

    id: str
    organization_id: str
    program_id: str
    flow_id: str
    did_pool: tuple[str, ...]
    status: str
    timezone: str
    pause_windows: PauseWindows  # none: empty
    scheduled_stop_at: datetime | None
    status_version: int
    max_concurrent_calls: int
    contacts_in_progress: int
    contacts_pending: int
    calling_hours: CallingHours | None = None  # none: its contacts have no zone key
    zone_keys: tuple[str, ...] = ()
    answering_machine: AnsweringMachine | None = None  # the program's, snapshotted at launch


def _calling(r: RowMapping) -> CallingExecution:
    hours = r["calling_hours"]
    return CallingExecution(
        str(r["id"]), r["organization_id"], r["program_id"], r["flow_id"], tuple(r["did_pool"] or ()), r["status"],
        r["timezone"], pause_windows.from_json(r["pause_windows"]), r["scheduled_stop_at"], int(r["status_version"]),
        int(r["max_concurrent_calls"]), int(r["contacts_in_progress"]), int(r["contacts_pending"]),
        None if hours is None else calling_hours.from_json(hours), tuple(r["zone_keys"] or ()),
        answering_machine.from_json(r["answering_machine"]))


@dataclass(frozen=True)
class Claimable:
    """A running execution locked for a claim: how many more calls it may start, its gate version."""

    free: int
    status_version: int


@dataclass(frozen=True)
class Attempt:
    """An attempt in progress: claimed now, or found past its lease (the same attempt id)."""

    id: int  # the contact row's id
    execution_id: str
    contact_ref: str
    contact_id: str
    phone: str
    country: str
    attempt: int
    last_outcome: str | None
    zone_key: str | None = None


_ATTEMPT_COLUMNS = "id, execution_id, contact_ref, contact_id, phone, country, attempt, last_outcome, zone_key"


def _attempt(r: Any) -> Attempt:
    return Attempt(int(r[0]), str(r[1]), r[2], r[3], r[4], r[5], int(r[6]), r[7], r[8])


async def dispatchable(conn: AsyncConnection, now: datetime) -> list[CallingExecution]:
    """Running executions with pending work and free capacity (one query for all).

    An execution with results whose nodes are not counted yet waits: its auto-pause count is
    not known, so a call started now could be past a threshold. A launch not yet confirmed by
    the program service waits too: its program may have been deleted meanwhile.
    """
    result = await conn.execute(text(f"""
        SELECT {_CONTEXT}
        FROM executions
        WHERE status = {RUNNING_SQL} AND contacts_pending > 0 AND uncounted_results = 0 AND program_confirmed
          AND contacts_in_progress < max_concurrent_calls
          AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        ORDER BY updated_at"""), {"now": now})
    return [_calling(r) for r in result.mappings()]


async def lock_claimable(conn: AsyncConnection, execution_ids: Sequence[str], now: datetime) -> dict[str, Claimable]:
    """Lock the executions still running (skipping busy ones); their free capacity and version."""
    result = await conn.execute(text(f"""
        SELECT id, max_concurrent_calls - contacts_in_progress AS free, status_version FROM executions
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status = {RUNNING_SQL} AND uncounted_results = 0
          AND program_confirmed AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED"""), {"ids": list(execution_ids), "now": now})
    return {str(r[0]): Claimable(int(r[1]), int(r[2])) for r in result if int(r[1]) > 0}


async def claim_due(conn: AsyncConnection, limits: Mapping[str, int], now: datetime, lease_until: datetime,
                    open_keys: Mapping[str, Sequence[str]] | None = None) -> list[Attempt]:
    """Claim due pending contacts of several executions in one statement; attempt + 1.

    An execution in `open_keys` has calling hours: only its contacts of those zone keys are taken."""
    if not limits:
        return []
    ids = list(limits)
    gated = open_keys or {}
    pairs = [(e, k) for e, keys in gated.items() for k in keys]
    result = await conn.execute(text(f"""
        WITH lim AS (
            SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:limits AS int[]), CAST(:gated AS boolean[]))
                AS l(execution_id, n, gated)
        ), open_keys AS (
            SELECT * FROM unnest(CAST(:open_ids AS uuid[]), CAST(:open_keys AS text[])) AS o(execution_id, zone_key)
        ), picked AS (
            SELECT p.id FROM lim CROSS JOIN LATERAL (
                SELECT c.id FROM execution_contacts c
                WHERE c.execution_id = lim.execution_id AND c.state = {PENDING_SQL}
                  AND c.next_attempt_at <= :now
                  AND (NOT lim.gated OR c.zone_key IN (
                      SELECT o.zone_key FROM open_keys o WHERE o.execution_id = lim.execution_id))
                ORDER BY c.next_attempt_at LIMIT lim.n
                FOR UPDATE SKIP LOCKED) p
        )
        UPDATE execution_contacts c SET state = {IN_PROGRESS_SQL}, attempt = c.attempt + 1,
            lease_until = :lease, updated_at = :now
        -- An array, not a join: the planner cannot size the LIMITs above and would hash-join the
        -- whole table; = ANY(array) is one primary-key lookup per claimed row.
        WHERE c.id = ANY(ARRAY(SELECT id FROM picked))
        RETURNING c.id, c.execution_id, c.contact_ref, c.contact_id, c.phone, c.country, c.attempt,
            c.last_outcome, c.zone_key"""),
        {"ids": ids, "limits": [limits[i] for i in ids], "gated": [i in gated for i in ids],
         "open_ids": [e for e, _ in pairs], "open_keys": [k for _, k in pairs], "now": now, "lease": lease_until})
    return [_attempt(r) for r in result]


async def defer_closed(conn: AsyncConnection, execution_id: str, openings: Mapping[str, datetime],
                       now: datetime) -> int:
    """Due pending contacts of closed zone keys wait for their key's next opening."""
    if not openings:
        return 0
    keys = list(openings)
    result = await conn.execute(text(f"""
        UPDATE execution_contacts c SET next_attempt_at = o.opening, updated_at = :now
        FROM unnest(CAST(:keys AS text[]), CAST(:openings AS timestamptz[])) AS o(zone_key, opening)
        WHERE c.execution_id = CAST(:id AS uuid) AND c.state = {PENDING_SQL} AND c.next_attempt_at <= :now
          AND c.zone_key = o.zone_key"""),
        {"id": execution_id, "keys": keys, "openings": [openings[k] for k in keys], "now": now})
    return result.rowcount or 0


async def unclaim(conn: AsyncConnection, deferrals: Mapping[int, datetime], now: datetime) -> None:
    """Contacts claimed in this transaction that may not be called yet: pending again, their
    attempt not consumed, due at the given instant (no request was published for them)."""
    if not deferrals:
        return
    ids = list(deferrals)
    await conn.execute(text(f"""
        UPDATE execution_contacts c SET state = {PENDING_SQL}, attempt = GREATEST(c.attempt - 1, 0),
            lease_until = NULL, next_attempt_at = d.due, updated_at = :now
        FROM unnest(CAST(:ids AS bigint[]), CAST(:dues AS timestamptz[])) AS d(id, due)
        WHERE c.id = d.id AND c.state = {IN_PROGRESS_SQL}"""),
        {"ids": ids, "dues": [deferrals[i] for i in ids], "now": now})


async def skip_claimed(conn: AsyncConnection, contact_ids: Sequence[int], reason: str, now: datetime) -> None:
    """Contacts claimed in this transaction that must never be called: skipped for `reason`."""
    if not contact_ids:
        return
    await conn.execute(text(f"""
        UPDATE execution_contacts SET state = {SKIPPED_SQL}, attempt = GREATEST(attempt - 1, 0), lease_until = NULL,
            skipped_reason = :reason, updated_at = :now
        WHERE id = ANY(CAST(:ids AS bigint[])) AND state = {IN_PROGRESS_SQL}"""),
        {"ids": list(contact_ids), "reason": reason, "now": now})


# ---------------------------------------------------------------- lease sweep


async def executions_with_expired_leases(conn: AsyncConnection, now: datetime, limit: int = 500) -> list[str]:
    """Executions having in-progress contacts whose lease ran out (oldest leases first); no lock."""
    result = await conn.execute(text(f"""
        SELECT DISTINCT execution_id FROM (
            SELECT execution_id FROM execution_contacts
            WHERE state = {IN_PROGRESS_SQL} AND lease_until < :now ORDER BY lease_until LIMIT :limit) expired"""),
        {"now": now, "limit": limit})
    return [str(r[0]) for r in result]


async def lock_for_sweep(conn: AsyncConnection, execution_ids: Sequence[str]) -> dict[str, CallingExecution]:
    """The executions locked (busy ones skipped), with what decides whether they may call now."""
    result = await conn.execute(text(f"""
        SELECT {_CONTEXT} FROM executions WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED"""), {"ids": list(execution_ids)})
    return {str(r["id"]): _calling(r) for r in result.mappings()}


async def take_expired(conn: AsyncConnection, execution_ids: Sequence[str], now: datetime,
                       limit: int = 500) -> list[Attempt]:
    """Lock the expired in-progress contacts of these (locked) executions."""
    result = await conn.execute(text(f"""
        SELECT {_ATTEMPT_COLUMNS}
        FROM execution_contacts
        WHERE execution_id = ANY(CAST(:ids AS uuid[])) AND state = {IN_PROGRESS_SQL} AND lease_until < :now
        ORDER BY lease_until LIMIT :limit FOR UPDATE SKIP LOCKED"""),
        {"ids": list(execution_ids), "now": now, "limit": limit})
    return [_attempt(r) for r in result]


async def extend_leases(conn: AsyncConnection, contact_ids: Sequence[int], lease_until: datetime) -> None:
    if not contact_ids:
        return
    await conn.execute(text("UPDATE execution_contacts SET lease_until = :lease WHERE id = ANY(CAST(:ids AS bigint[]))"),
                       {"ids": list(contact_ids), "lease": lease_until})


async def give_back(conn: AsyncConnection, contact_ids: Sequence[int], state: str, outcome: str,
                    now: datetime) -> None:
    """In-progress contacts whose attempt is given back: attempt − 1, `state`, due now."""
    await conn.execute(text(f"""
        UPDATE execution_contacts SET state = :state, attempt = GREATEST(attempt - 1, 0), lease_until = NULL,
            next_attempt_at = :now, last_outcome = :outcome, updated_at = :now
        WHERE id = ANY(CAST(:ids AS bigint[])) AND state = {IN_PROGRESS_SQL}"""),
        {"ids": list(contact_ids), "state": state, "outcome": outcome, "now": now})
