"""SQL of the execution context. Every function runs inside the caller's transaction.

Lock order, everywhere: execution rows first (ordered by id), then contact rows. The
claim takes both with SKIP LOCKED and never waits; the other writers wait in that order,
so no two transactions can deadlock on each other.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.timefmt import iso
from services.execution.adapters.tables import EXECUTION_COLUMNS
from services.execution.domain import status as st

ACTIVE_SQL = "(" + ", ".join(f"'{s}'" for s in st.ACTIVE) + ")"
TERMINAL_SQL = "(" + ", ".join(f"'{s}'" for s in st.TERMINAL) + ")"
ONE_ACTIVE_INDEX = "executions_one_active_per_program"
COUNTER_COLUMNS = ("contacts_completed", "contacts_failed", "contacts_pending", "contacts_in_progress",
                   "contacts_skipped")


class ActiveExecutionExists(Exception):
    """The partial unique index refused a second active execution of the program."""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


# ---------------------------------------------------------------- executions


async def insert_execution(conn: AsyncConnection, row: Mapping[str, Any]) -> None:
    params = dict(row)
    for key in ("did_pool", "retry_strategy", "pause_windows", "auto_pause_rules", "trigger_condition"):
        params[key] = _json(params.get(key))
    try:
        await conn.execute(text("""
            INSERT INTO executions (id, organization_id, program_id, audience_id, flow_id, mode, status,
                timezone, did_pool, retry_strategy, pause_windows, auto_pause_rules, trigger_condition,
                max_concurrent_calls, scheduled_start_at, scheduled_stop_at, actual_start_at,
                created_at, updated_at, program_confirmed)
            VALUES (:id, :organization_id, :program_id, :audience_id, :flow_id, :mode, :status,
                :timezone, CAST(:did_pool AS jsonb), CAST(:retry_strategy AS jsonb),
                CAST(:pause_windows AS jsonb), CAST(:auto_pause_rules AS jsonb),
                CAST(:trigger_condition AS jsonb), :max_concurrent_calls, :scheduled_start_at,
                :scheduled_stop_at, :actual_start_at, :created_at, :updated_at, :program_confirmed)"""), params)
    except IntegrityError as exc:
        if ONE_ACTIVE_INDEX in str(exc.orig):
            raise ActiveExecutionExists() from None
        raise


async def has_active_execution(conn: AsyncConnection, program_id: str) -> bool:
    found = await conn.execute(text(f"SELECT 1 FROM executions WHERE program_id = :p AND status IN {ACTIVE_SQL}"),
                               {"p": program_id})
    return found.first() is not None


async def confirm_program(conn: AsyncConnection, execution_id: str) -> None:
    """The program service confirmed the launch: the execution may dispatch."""
    await conn.execute(text("UPDATE executions SET program_confirmed = true WHERE id = CAST(:id AS uuid)"),
                       {"id": execution_id})


async def discard_unconfirmed(conn: AsyncConnection, execution_id: str) -> bool:
    """Delete a launch the program service refused (never dispatched: unconfirmed), contacts first."""
    locked = await conn.execute(text("""
        SELECT 1 FROM executions WHERE id = CAST(:id AS uuid) AND NOT program_confirmed FOR UPDATE"""),
        {"id": execution_id})
    if locked.first() is None:
        return False
    await conn.execute(text("DELETE FROM execution_contacts WHERE execution_id = CAST(:id AS uuid)"),
                       {"id": execution_id})
    await conn.execute(text("DELETE FROM executions WHERE id = CAST(:id AS uuid)"), {"id": execution_id})
    return True


async def set_batch_total(conn: AsyncConnection, execution_id: str, total: int) -> None:
    await conn.execute(text("""
        UPDATE executions SET total_contacts = :n, contacts_pending = :n WHERE id = :id"""),
        {"n": total, "id": execution_id})


async def get_execution(conn: AsyncConnection, organization_id: str | None, execution_id: str,
                        lock: bool = False) -> Mapping[str, Any] | None:
    clause = "" if organization_id is None else " AND organization_id = :org"
    suffix = " FOR NO KEY UPDATE" if lock else ""
    result = await conn.execute(
        text(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = CAST(:id AS uuid){clause}{suffix}"),
        {"id": execution_id, "org": organization_id})
    row = result.mappings().first()
    return dict(row) if row else None


async def active_execution_of_program(conn: AsyncConnection, organization_id: str,
                                      program_id: str) -> str | None:
    result = await conn.execute(text(f"""
        SELECT id FROM executions WHERE program_id = :p AND organization_id = :org AND status IN {ACTIVE_SQL}"""),
        {"p": program_id, "org": organization_id})
    row = result.first()
    return str(row[0]) if row else None


async def list_executions(conn: AsyncConnection, organization_id: str, program_id: str | None,
                          active_only: bool, limit: int,
                          after: tuple[datetime, str] | None) -> list[dict[str, Any]]:
    clauses = ["organization_id = :org"]
    params: dict[str, Any] = {"org": organization_id, "limit": limit}
    if program_id:
        clauses.append("program_id = :program")
        params["program"] = program_id
    if active_only:
        clauses.append(f"status IN {ACTIVE_SQL}")
    if after:
        clauses.append("(created_at, id) < (:after_at, CAST(:after_id AS uuid))")
        params["after_at"], params["after_id"] = after
    result = await conn.execute(text(f"""
        SELECT {EXECUTION_COLUMNS} FROM executions WHERE {' AND '.join(clauses)}
        ORDER BY created_at DESC, id DESC LIMIT :limit"""), params)
    return [dict(r) for r in result.mappings()]


async def compare_and_set_status(conn: AsyncConnection, execution_id: str, allowed: Sequence[str], target: str,
                                 now: datetime, *, start: bool = False, end: bool = False,
                                 auto_pause_rules: Any = ..., end_notified: bool | None = None) -> int | None:
    """Move the execution to `target` only if its status is one of `allowed`; answers the new
    status version (the call gate's fence), None when the status was not one of `allowed`.

    `end`: the execution ends; actualEndAt is when its last call finished, so it is set now only
    if no call is in progress (else by mark_drained when the last result comes in)."""
    sets = ["status = :target", "updated_at = :now", "status_version = status_version + 1"]
    params: dict[str, Any] = {"id": execution_id, "allowed": list(allowed), "target": target, "now": now}
    if start:
        sets.append("actual_start_at = COALESCE(actual_start_at, :now)")
    if end:
        sets.append("actual_end_at = CASE WHEN contacts_in_progress = 0 THEN CAST(:now AS timestamptz) END")
    if auto_pause_rules is not ...:
        sets.append("auto_pause_rules = CAST(:rules AS jsonb)")
        params["rules"] = _json(auto_pause_rules)
    if end_notified is not None:
        sets.append("end_notified = :end_notified")
        params["end_notified"] = end_notified
    result = await conn.execute(text(f"""
        UPDATE executions SET {', '.join(sets)}
        WHERE id = CAST(:id AS uuid) AND status = ANY(CAST(:allowed AS text[])) RETURNING status_version"""),
        params)
    row = result.first()
    return None if row is None else int(row[0])


async def mark_drained(conn: AsyncConnection, execution_ids: Iterable[str], now: datetime) -> None:
    """actualEndAt of ended executions whose last call in progress has just finished."""
    ids = list(execution_ids)
    if not ids:
        return
    await conn.execute(text(f"""
        UPDATE executions SET actual_end_at = :now
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status IN {TERMINAL_SQL} AND actual_end_at IS NULL
          AND contacts_in_progress = 0"""), {"ids": ids, "now": now})


async def skip_pending(conn: AsyncConnection, execution_id: str, now: datetime) -> int:
    """Every pending contact of the execution becomes skipped; counters follow."""
    result = await conn.execute(text("""
        WITH skipped AS (
            UPDATE execution_contacts SET state = 'skipped', updated_at = :now
            WHERE execution_id = CAST(:id AS uuid) AND state = 'pending' RETURNING 1)
        SELECT count(*) FROM skipped"""), {"id": execution_id, "now": now})
    n = int(result.scalar_one())
    if n:
        await conn.execute(text("""
            UPDATE executions SET contacts_pending = contacts_pending - :n,
                contacts_skipped = contacts_skipped + :n WHERE id = CAST(:id AS uuid)"""),
            {"n": n, "id": execution_id})
    return n


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


async def add_credit_pause(conn: AsyncConnection, execution_ids: Iterable[str], now: datetime) -> dict[str, int]:
    """running → paused_no_credits; the status version of each execution paused."""
    result = await conn.execute(text("""
        UPDATE executions SET status = 'paused_no_credits', updated_at = :now, status_version = status_version + 1
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'running' RETURNING id, status_version"""),
        {"ids": list(execution_ids), "now": now})
    return {str(r[0]): int(r[1]) for r in result}


# ---------------------------------------------------------------- contacts


def _copy_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_column(values: Sequence[str]) -> Sequence[str]:
    """The column escaped for COPY text format; as is when nothing in it needs escaping (the usual case)."""
    joined = "".join(values)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [_copy_field(v) for v in values]
    return values


async def copy_batch_contacts(conn: AsyncConnection, execution_id: str,
                              batches: AsyncIterator[tuple[Sequence[str], Sequence[str], Sequence[str]]],
                              now: datetime) -> int:
    """COPY every streamed contact into the execution's contact table; a contact listed twice once.

    Each batch is three columns: contact ids, phones, countries."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    stamp = iso(now)
    tail = f"\tpending\t0\t{stamp}\t{stamp}\n"
    seen: set[str] = set()
    async with pg.cursor() as cursor, cursor.copy(
        "COPY execution_contacts (execution_id, contact_ref, contact_id, phone, country, state, attempt,"
        " next_attempt_at, updated_at) FROM STDIN"
    ) as copy:
        async for ids, phones, countries in batches:
            if not len(ids) == len(phones) == len(countries):
                raise ValueError("contact columns of different lengths")
            batch_ids = set(ids)
            if len(batch_ids) == len(ids) and seen.isdisjoint(batch_ids):
                seen |= batch_ids
            else:  # a contact seen before: its first row only
                kept: tuple[list[str], list[str], list[str]] = ([], [], [])
                for cid, phone, country in zip(ids, phones, countries, strict=True):
                    if cid not in seen:
                        seen.add(cid)
                        kept[0].append(cid)
                        kept[1].append(phone)
                        kept[2].append(country)
                ids, phones, countries = kept
            if ids:
                ids, phones, countries = (_copy_column(column) for column in (ids, phones, countries))
                await copy.write("".join([f"{execution_id}\t{c}\t{c}\t{p}\t{n}{tail}"
                                          for c, p, n in zip(ids, phones, countries, strict=True)]))
    return len(seen)


async def insert_live_contacts(conn: AsyncConnection, rows: Sequence[tuple[str, str, str, str, str]],
                               now: datetime) -> list[str]:
    """(execution id, trigger id, contact id, phone, country) rows; the execution id of each row inserted
    (a trigger already added is skipped)."""
    if not rows:
        return []
    result = await conn.execute(text("""
        INSERT INTO execution_contacts (execution_id, contact_ref, contact_id, phone, country, state,
            attempt, next_attempt_at, updated_at)
        SELECT r.e, r.ref, r.cid, r.phone, r.country, 'pending', 0, :now, :now
        FROM unnest(CAST(:eids AS uuid[]), CAST(:refs AS text[]), CAST(:cids AS text[]), CAST(:phones AS text[]),
                    CAST(:countries AS text[])) AS r(e, ref, cid, phone, country)
        ON CONFLICT (execution_id, contact_ref) DO NOTHING RETURNING execution_id"""),
        {"eids": [r[0] for r in rows], "refs": [r[1] for r in rows], "cids": [r[2] for r in rows],
         "phones": [r[3] for r in rows], "countries": [r[4] for r in rows], "now": now})
    return [str(r[0]) for r in result]


async def lock_live_executions(conn: AsyncConnection, execution_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    result = await conn.execute(text("""
        SELECT id, status, mode, organization_id FROM executions WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR NO KEY UPDATE"""), {"ids": sorted(set(execution_ids))})
    return {str(r["id"]): dict(r) for r in result.mappings()}


async def lock_executions(conn: AsyncConnection, execution_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    result = await conn.execute(text("""
        SELECT id, status, retry_strategy, auto_pause_rules FROM executions WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR NO KEY UPDATE"""), {"ids": sorted(set(execution_ids))})
    return {str(r["id"]): dict(r) for r in result.mappings()}


async def lock_contacts(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """Contacts by (execution id, contact ref), locked for update."""
    if not keys:
        return {}
    result = await conn.execute(text("""
        SELECT c.id, c.execution_id, c.contact_ref, c.state, c.attempt, c.last_outcome FROM execution_contacts c
        JOIN unnest(CAST(:eids AS uuid[]), CAST(:refs AS text[])) AS k(eid, ref)
          ON c.execution_id = k.eid AND c.contact_ref = k.ref
        ORDER BY c.id FOR UPDATE OF c"""),
        {"eids": [k[0] for k in keys], "refs": [k[1] for k in keys]})
    return {(str(r["execution_id"]), r["contact_ref"]): dict(r) for r in result.mappings()}


@dataclass
class ContactUpdate:
    id: int
    expected_attempt: int
    expected_state: str
    expected_outcome: str | None  # fences a late result (a contact no longer in progress)
    state: str
    attempt: int
    next_attempt_at: datetime | None
    outcome: str


async def apply_contact_updates(conn: AsyncConnection, updates: Sequence[ContactUpdate], now: datetime) -> int:
    """Fenced: a row changes only while it is still as read (attempt, state, and for a contact no
    longer in progress its last outcome)."""
    if not updates:
        return 0
    result = await conn.execute(text("""
        UPDATE execution_contacts c SET state = u.state, attempt = u.attempt,
            next_attempt_at = COALESCE(u.next_at, c.next_attempt_at), lease_until = NULL,
            last_outcome = u.outcome, updated_at = :now
        FROM unnest(CAST(:ids AS bigint[]), CAST(:expected AS int[]), CAST(:from_states AS text[]),
                    CAST(:from_outcomes AS text[]), CAST(:states AS text[]),
                    CAST(:attempts AS int[]), CAST(:nexts AS timestamptz[]), CAST(:outcomes AS text[]))
             AS u(id, expected, from_state, from_outcome, state, attempt, next_at, outcome)
        WHERE c.id = u.id AND c.attempt = u.expected AND c.state = u.from_state
          AND (u.from_state = 'in_progress' OR c.last_outcome = u.from_outcome)"""),
        {"ids": [u.id for u in updates], "expected": [u.expected_attempt for u in updates],
         "from_states": [u.expected_state for u in updates],
         "from_outcomes": [u.expected_outcome for u in updates],
         "states": [u.state for u in updates], "attempts": [u.attempt for u in updates],
         "nexts": [iso(u.next_attempt_at) if u.next_attempt_at else None for u in updates],
         "outcomes": [u.outcome for u in updates], "now": now})
    return result.rowcount


# ---------------------------------------------------------------- orchestrator


async def start_due_scheduled(conn: AsyncConnection, now: datetime) -> list[str]:
    result = await conn.execute(text("""
        UPDATE executions SET status = 'running', actual_start_at = :now, updated_at = :now,
            status_version = status_version + 1
        WHERE status = 'scheduled' AND scheduled_start_at <= :now
          AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        RETURNING id"""), {"now": now})
    return [str(r[0]) for r in result]


async def lock_past_stop(conn: AsyncConnection, now: datetime, limit: int = 50) -> list[str]:
    result = await conn.execute(text(f"""
        SELECT id FROM executions
        WHERE status IN {ACTIVE_SQL} AND scheduled_stop_at IS NOT NULL AND scheduled_stop_at <= :now
        ORDER BY id LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""), {"now": now, "limit": limit})
    return [str(r[0]) for r in result]


async def complete_finished(conn: AsyncConnection, now: datetime) -> list[str]:
    result = await conn.execute(text("""
        UPDATE executions SET status = 'completed', actual_end_at = :now, updated_at = :now,
            status_version = status_version + 1
        WHERE status = 'running' AND mode = 'batch' AND contacts_pending = 0 AND contacts_in_progress = 0
        RETURNING id"""), {"now": now})
    return [str(r[0]) for r in result]


async def lock_unnotified(conn: AsyncConnection, limit: int = 20) -> list[dict[str, Any]]:
    """Executions whose after-commit side effects are not confirmed yet (outbox)."""
    result = await conn.execute(text(f"""
        SELECT {EXECUTION_COLUMNS}, launch_notified, end_notified, program_confirmed FROM executions
        WHERE (NOT launch_notified AND inserted_at < now() - interval '5 seconds')
           OR (NOT end_notified AND status IN {TERMINAL_SQL})
        ORDER BY inserted_at LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""), {"limit": limit})
    return [dict(r) for r in result.mappings()]


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


# ---------------------------------------------------------------- auto-pause counting


async def defer_counting(conn: AsyncConnection, calls: Mapping[str, Sequence[tuple[str, Sequence[str]]]],
                         now: datetime) -> None:
    """Keep calls whose nodes Redis could not count (execution id → [(attempt id, node ids)])."""
    rows = [(e, attempt_id, json.dumps(list(nodes))) for e, items in calls.items() for attempt_id, nodes in items]
    if not rows:
        return
    result = await conn.execute(text("""
        INSERT INTO uncounted_results (execution_id, attempt_id, node_ids, created_at)
        SELECT e, a, CAST(n AS jsonb), :now
        FROM unnest(CAST(:eids AS uuid[]), CAST(:aids AS text[]), CAST(:nodes AS text[])) AS u(e, a, n)
        ON CONFLICT DO NOTHING RETURNING execution_id"""),
        {"eids": [r[0] for r in rows], "aids": [r[1] for r in rows], "nodes": [r[2] for r in rows], "now": now})
    added = Counter(str(r[0]) for r in result)
    if added:
        ids = list(added)
        await conn.execute(text("""
            UPDATE executions e SET uncounted_results = e.uncounted_results + d.n
            FROM unnest(CAST(:ids AS uuid[]), CAST(:ns AS int[])) AS d(id, n) WHERE e.id = d.id"""),
            {"ids": ids, "ns": [added[i] for i in ids]})


async def lock_uncounted(conn: AsyncConnection, execution_ids: Sequence[str] | None = None,
                         limit: int = 50) -> dict[str, dict[str, Any]]:
    """Executions holding uncounted results, locked (busy ones skipped); all of them, or those named."""
    clause = "" if execution_ids is None else " AND id = ANY(CAST(:ids AS uuid[]))"
    result = await conn.execute(text(f"""
        SELECT id, status, auto_pause_rules FROM executions WHERE uncounted_results > 0{clause}
        ORDER BY id LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""),
        {"ids": list(execution_ids or ()), "limit": limit})
    return {str(r["id"]): dict(r) for r in result.mappings()}


async def any_uncounted(conn: AsyncConnection) -> bool:
    found = await conn.execute(text("SELECT 1 FROM executions WHERE uncounted_results > 0 LIMIT 1"))
    return found.first() is not None


async def uncounted_of(conn: AsyncConnection, execution_ids: Sequence[str]) -> list[tuple[str, str, list[str]]]:
    result = await conn.execute(text("""
        SELECT execution_id, attempt_id, node_ids FROM uncounted_results
        WHERE execution_id = ANY(CAST(:ids AS uuid[])) ORDER BY created_at, attempt_id"""),
        {"ids": list(execution_ids)})
    return [(str(r[0]), r[1], list(r[2])) for r in result]


async def clear_uncounted(conn: AsyncConnection, execution_ids: Sequence[str]) -> None:
    await conn.execute(text("DELETE FROM uncounted_results WHERE execution_id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(execution_ids)})
    await conn.execute(text("UPDATE executions SET uncounted_results = 0 WHERE id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(execution_ids)})
