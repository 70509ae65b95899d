"""SQL of the executions aggregate: rows, reads, locks and the launch's writes. Every function
runs inside the caller's transaction.

Lock order, everywhere: execution rows first (ordered by id), then contact rows. The
claim takes both with SKIP LOCKED and never waits; the other writers wait in that order,
so no two transactions can deadlock on each other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from campaign_rules.answering_machine import AnsweringMachine
from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.calling_hours import CallingHours
from campaign_rules.pause_windows import PauseWindows
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import TriggerCondition
from kernel.db import after_key
from kernel.paging import PageRequest
from services.execution.adapters.tables import ACTIVE_SQL, EXECUTION_COLUMNS

ONE_ACTIVE_INDEX = "executions_one_active_per_program"


class ActiveExecutionExists(Exception):
    """The partial unique index refused a second active execution of the program."""


@dataclass(frozen=True)
class ExecutionRow:
    """An execution as stored (bookkeeping columns aside). The rules as campaign_rules values;
    None where the program had no such rule (the column is NULL)."""

    id: str
    organization_id: str
    program_id: str
    audience_id: str
    flow_id: str
    mode: str
    status: str
    timezone: str
    did_pool: tuple[str, ...]
    retry_strategy: RetryStrategy
    pause_windows: PauseWindows | None
    auto_pause_rules: tuple[AutoPauseRule, ...] | None
    trigger_condition: TriggerCondition | None
    max_concurrent_calls: int
    total_contacts: int
    contacts_completed: int
    contacts_failed: int
    contacts_pending: int
    contacts_in_progress: int
    contacts_skipped: int
    scheduled_start_at: datetime
    scheduled_stop_at: datetime | None
    actual_start_at: datetime | None
    actual_end_at: datetime | None
    created_at: datetime
    updated_at: datetime
    calling_hours: CallingHours | None = None
    contacts_skipped_dnc: int = 0  # of contacts_skipped: the number was on the do-not-call list
    answering_machine: AnsweringMachine | None = None  # None: no detection


_FIELDS = tuple(f.name for f in fields(ExecutionRow))

# The rule columns hold campaign_rules' stored form (to_json), read back with its from_json, which
# also reads rows written before that form was the only one. NULL (the program had no such rule)
# stays None: the API shows autoPauseRules null, unlike [].


def read_windows(value: Any) -> PauseWindows | None:
    return None if value is None else pause_windows.from_json(value)


def read_condition(value: Any) -> TriggerCondition | None:
    return trigger_condition.from_json(value) if value else None


def read_hours(value: Any) -> CallingHours | None:
    return None if value is None else calling_hours.from_json(value)


def write_rules(rules: tuple[AutoPauseRule, ...] | None) -> str | None:
    return None if rules is None else json.dumps(auto_pause.to_json(rules))


def rule_columns(row: ExecutionRow) -> dict[str, str | None]:
    """The rule columns of a row to write, as JSON text for CAST(... AS jsonb)."""
    return {
        "retry_strategy": json.dumps(retry.to_json(row.retry_strategy)),
        "pause_windows": None if row.pause_windows is None else json.dumps(pause_windows.to_json(row.pause_windows)),
        "auto_pause_rules": write_rules(row.auto_pause_rules),
        "trigger_condition": (None if row.trigger_condition is None
                              else json.dumps(trigger_condition.to_json(row.trigger_condition))),
        "calling_hours": None if row.calling_hours is None else json.dumps(calling_hours.to_json(row.calling_hours)),
        "answering_machine": (None if row.answering_machine is None
                              else json.dumps(answering_machine.to_json(row.answering_machine))),
    }


def execution_row(row: RowMapping) -> ExecutionRow:
    values = {name: row[name] for name in _FIELDS}
    values["id"] = str(row["id"])
    values["did_pool"] = tuple(row["did_pool"] or ())
    values["retry_strategy"] = retry.from_json(row["retry_strategy"])
    values["pause_windows"] = read_windows(row["pause_windows"])
    values["auto_pause_rules"] = auto_pause.from_json(row["auto_pause_rules"])
    values["trigger_condition"] = read_condition(row["trigger_condition"])
    values["calling_hours"] = read_hours(row["calling_hours"])
    values["answering_machine"] = answering_machine.from_json(row["answering_machine"])
    return ExecutionRow(**values)


@dataclass(frozen=True)
class LockedExecution:
    """What applying call results and counting their nodes need of a locked execution."""

    id: str
    status: str
    retry_strategy: RetryStrategy
    auto_pause_rules: tuple[AutoPauseRule, ...] | None


@dataclass(frozen=True)
class LiveTarget:
    """What adding a fired trigger's contact needs of a locked execution."""

    id: str
    status: str
    mode: str
    organization_id: str
    timezone: str = "UTC"
    has_calling_hours: bool = False  # its contacts get zone keys


def locked_execution(r: Any) -> LockedExecution:
    """From (id, status, retry_strategy, auto_pause_rules)."""
    return LockedExecution(str(r[0]), r[1], retry.from_json(r[2]), auto_pause.from_json(r[3]))


async def insert_execution(conn: AsyncConnection, row: ExecutionRow) -> None:
    """A new execution, unconfirmed (the program service has not marked its program active yet)."""
    params = {name: getattr(row, name) for name in _FIELDS}
    params["did_pool"] = json.dumps(list(row.did_pool))
    params.update(rule_columns(row))
    try:
        await conn.execute(text("""
            INSERT INTO executions (id, organization_id, program_id, audience_id, flow_id, mode, status,
                timezone, did_pool, retry_strategy, pause_windows, auto_pause_rules, trigger_condition,
                calling_hours, answering_machine, max_concurrent_calls, scheduled_start_at, scheduled_stop_at,
                actual_start_at, created_at, updated_at, program_confirmed)
            VALUES (:id, :organization_id, :program_id, :audience_id, :flow_id, :mode, :status,
                :timezone, CAST(:did_pool AS jsonb), CAST(:retry_strategy AS jsonb),
                CAST(:pause_windows AS jsonb), CAST(:auto_pause_rules AS jsonb),
                CAST(:trigger_condition AS jsonb), CAST(:calling_hours AS jsonb),
                CAST(:answering_machine AS jsonb), :max_concurrent_calls,
                :scheduled_start_at,
                :scheduled_stop_at, :actual_start_at, :created_at, :updated_at, false)"""), params)
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
    # Its creation in the status change log goes too: nothing is published of an execution
    # that never existed for the customer.
    await conn.execute(text("DELETE FROM execution_status_changes WHERE execution_id = CAST(:id AS uuid)"),
                       {"id": execution_id})
    await conn.execute(text("DELETE FROM executions WHERE id = CAST(:id AS uuid)"), {"id": execution_id})
    return True


async def set_batch_total(conn: AsyncConnection, execution_id: str, total: int,
                          zone_keys: Iterable[str] | None = None) -> None:
    """The launch's counts, and the zone keys of its contacts when it has calling hours."""
    await conn.execute(text("""
        UPDATE executions SET total_contacts = :n, contacts_pending = :n, zone_keys = :keys WHERE id = :id"""),
        {"n": total, "id": execution_id, "keys": None if zone_keys is None else sorted(zone_keys)})


async def add_zone_keys(conn: AsyncConnection, keys: dict[str, set[str]]) -> None:
    """Zone keys of live contacts just added, per execution (kept unique)."""
    for execution_id, new in keys.items():
        await conn.execute(text("""
            UPDATE executions SET zone_keys = ARRAY(
                SELECT DISTINCT k FROM unnest(coalesce(zone_keys, '{}') || CAST(:keys AS text[])) AS k ORDER BY k)
            WHERE id = CAST(:id AS uuid) AND NOT (coalesce(zone_keys, '{}') @> CAST(:keys AS text[]))"""),
            {"id": execution_id, "keys": sorted(new)})


async def get_execution(conn: AsyncConnection, organization_id: str | None, execution_id: str,
                        lock: bool = False) -> ExecutionRow | None:
    clause = "" if organization_id is None else " AND organization_id = :org"
    suffix = " FOR NO KEY UPDATE" if lock else ""
    result = await conn.execute(
        text(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = CAST(:id AS uuid){clause}{suffix}"),
        {"id": execution_id, "org": organization_id})
    row = result.mappings().first()
    return execution_row(row) if row else None


async def active_execution_of_program(conn: AsyncConnection, organization_id: str,
                                      program_id: str) -> str | None:
    result = await conn.execute(text(f"""
        SELECT id FROM executions WHERE program_id = :p AND organization_id = :org AND status IN {ACTIVE_SQL}"""),
        {"p": program_id, "org": organization_id})
    row = result.first()
    return str(row[0]) if row else None


async def list_executions(conn: AsyncConnection, organization_id: str, program_id: str | None,
                          active_only: bool, page: PageRequest) -> list[ExecutionRow]:
    """Newest first: `page.fetch` rows after the key `page.after` (created_at, id)."""
    clauses = ["organization_id = :org"]
    params: dict[str, Any] = {"org": organization_id, "limit": page.fetch}
    if program_id:
        clauses.append("program_id = :program")
        params["program"] = program_id
    if active_only:
        clauses.append(f"status IN {ACTIVE_SQL}")
    after, after_params = after_key(page, "created_at, id", ("timestamptz", "uuid"), descending=True)
    clauses.append(after)
    params.update(after_params)
    result = await conn.execute(text(f"""
        SELECT {EXECUTION_COLUMNS} FROM executions WHERE {' AND '.join(clauses)}
        ORDER BY created_at DESC, id DESC LIMIT :limit"""), params)
    return [execution_row(r) for r in result.mappings()]


async def lock_executions(conn: AsyncConnection, execution_ids: Iterable[str]) -> dict[str, LockedExecution]:
    result = await conn.execute(text("""
        SELECT id, status, retry_strategy, auto_pause_rules FROM executions WHERE id = ANY(CAST(:ids AS uuid[]))
        ORDER BY id FOR NO KEY UPDATE"""), {"ids": sorted(set(execution_ids))})
    return {str(r[0]): locked_execution(r) for r in result}


async def lock_live_executions(conn: AsyncConnection, execution_ids: Iterable[str]) -> dict[str, LiveTarget]:
    result = await conn.execute(text("""
        SELECT id, status, mode, organization_id, timezone, calling_hours IS NOT NULL FROM executions
        WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR NO KEY UPDATE"""), {"ids": sorted(set(execution_ids))})
    return {str(r[0]): LiveTarget(str(r[0]), r[1], r[2], r[3], r[4], bool(r[5])) for r in result}


async def lock_past_stop(conn: AsyncConnection, now: datetime, limit: int = 50) -> list[str]:
    result = await conn.execute(text(f"""
        SELECT id FROM executions
        WHERE status IN {ACTIVE_SQL} AND scheduled_stop_at IS NOT NULL AND scheduled_stop_at <= :now
        ORDER BY id LIMIT :limit FOR NO KEY UPDATE SKIP LOCKED"""), {"now": now, "limit": limit})
    return [str(r[0]) for r in result]
