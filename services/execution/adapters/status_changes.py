"""SQL of the executions' status changes. Every function runs inside the caller's transaction.

Each change is a compare-and-set from a domain Move (domain/status.py): the statuses it may
leave come from the transition table, never from a list written here. Every change bumps
status_version, the call gate's fence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import EllipsisType
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from campaign_rules.auto_pause import AutoPauseRule
from services.execution.adapters.executions import write_rules
from services.execution.adapters.tables import TERMINAL_SQL, literal, one_of
from services.execution.domain import status as st
from services.execution.domain.launch import BATCH


async def compare_and_set_status(conn: AsyncConnection, execution_id: str, move: st.Move, now: datetime, *,
                                 start: bool = False, end: bool = False,
                                 auto_pause_rules: tuple[AutoPauseRule, ...] | None | EllipsisType = ...
                                 ) -> int | None:
    """Move the execution to `move.target` only if its status is one of `move.sources`; answers the
    new status version (the call gate's fence), None when the status was not one of them.

    `end`: the execution ends; actualEndAt is when its last call finished, so it is set now only
    if no call is in progress (else by mark_drained when the last result comes in)."""
    sets = ["status = :target", "updated_at = :now", "status_version = status_version + 1"]
    params: dict[str, Any] = {"id": execution_id, "allowed": list(move.sources), "target": move.target,
                              "now": now}
    if start:
        sets.append("actual_start_at = COALESCE(actual_start_at, :now)")
    if end:
        sets.append("actual_end_at = CASE WHEN contacts_in_progress = 0 THEN CAST(:now AS timestamptz) END")
    if not isinstance(auto_pause_rules, EllipsisType):  # ...: the rules stay as they are
        sets.append("auto_pause_rules = CAST(:rules AS jsonb)")
        params["rules"] = write_rules(auto_pause_rules)
    result = await conn.execute(text(f"""
        UPDATE executions SET {', '.join(sets)}
        WHERE id = CAST(:id AS uuid) AND status = ANY(CAST(:allowed AS text[])) RETURNING status_version"""),
        params)
    row = result.first()
    return None if row is None else int(row[0])


async def start_due_scheduled(conn: AsyncConnection, now: datetime) -> list[str]:
    """Every scheduled execution whose startAt has come starts (unless its stopAt has passed too)."""
    result = await conn.execute(text(f"""
        UPDATE executions SET status = {literal(st.START.target)}, actual_start_at = :now, updated_at = :now,
            status_version = status_version + 1
        WHERE status IN {one_of(st.START.sources)} AND scheduled_start_at <= :now
          AND (scheduled_stop_at IS NULL OR scheduled_stop_at > :now)
        RETURNING id"""), {"now": now})
    return [str(r[0]) for r in result]


async def complete_finished(conn: AsyncConnection, now: datetime) -> list[str]:
    """Every running batch execution with nothing pending or in progress completes."""
    result = await conn.execute(text(f"""
        UPDATE executions SET status = {literal(st.COMPLETE.target)}, actual_end_at = :now, updated_at = :now,
            status_version = status_version + 1
        WHERE status IN {one_of(st.COMPLETE.sources)} AND mode = {literal(BATCH)} AND contacts_pending = 0
          AND contacts_in_progress = 0
        RETURNING id"""), {"now": now})
    return [str(r[0]) for r in result]


async def add_credit_pause(conn: AsyncConnection, execution_ids: Iterable[str], now: datetime) -> dict[str, int]:
    """running → paused_no_credits; the status version of each execution paused."""
    result = await conn.execute(text(f"""
        UPDATE executions SET status = {literal(st.CREDIT_PAUSE.target)}, updated_at = :now,
            status_version = status_version + 1
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status IN {one_of(st.CREDIT_PAUSE.sources)}
        RETURNING id, status_version"""),
        {"ids": list(execution_ids), "now": now})
    return {str(r[0]): int(r[1]) for r in result}


async def mark_drained(conn: AsyncConnection, execution_ids: Iterable[str], now: datetime) -> None:
    """actualEndAt of ended executions whose last call in progress has just finished."""
    ids = list(execution_ids)
    if not ids:
        return
    await conn.execute(text(f"""
        UPDATE executions SET actual_end_at = :now
        WHERE id = ANY(CAST(:ids AS uuid[])) AND status IN {TERMINAL_SQL} AND actual_end_at IS NULL
          AND contacts_in_progress = 0"""), {"ids": ids, "now": now})
