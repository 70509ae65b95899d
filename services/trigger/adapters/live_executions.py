"""PostgreSQL access to the live executions the trigger context follows (schema `trigger`): their
start, the snapshot of their triggers taken at launch (bulk, through a staging table), their end."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.trigger.adapters.sql import status_in
from services.trigger.domain import status as st


@dataclass(frozen=True)
class LiveExecution:
    execution_id: str
    program_id: str
    organization_id: str
    attribute_slug: str
    direction: str
    offset_days: int
    offset_hours: int
    offset_minutes: int
    output_audience_id: str
    active: bool
    precomputed: bool
    triggers_created: int
    snapshot_at: datetime | None
    created_at: datetime


_LIVE_COLUMNS = ("execution_id, program_id, organization_id, attribute_slug, direction, offset_days, offset_hours, "
                 "offset_minutes, output_audience_id, active, precomputed, triggers_created, snapshot_at, created_at")


def _live(row: Row) -> LiveExecution:
    return LiveExecution(**{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row._mapping.items()})


async def insert(conn: AsyncConnection, le: LiveExecution) -> None:
    await conn.execute(text(f"""
        INSERT INTO live_executions ({_LIVE_COLUMNS})
        VALUES (:execution_id, :program_id, :organization_id, :attribute_slug, :direction, :offset_days,
                :offset_hours, :offset_minutes, :output_audience_id, :active, :precomputed, :triggers_created,
                :snapshot_at, :created_at)
        ON CONFLICT (execution_id) DO NOTHING"""), asdict(le))


async def lock(conn: AsyncConnection, execution_id: str) -> LiveExecution | None:
    row = (await conn.execute(text(f"SELECT {_LIVE_COLUMNS} FROM live_executions WHERE execution_id = :id "
                                   "FOR UPDATE"), {"id": execution_id})).first()
    return _live(row) if row else None


async def is_ended(conn: AsyncConnection, execution_id: str) -> bool:
    row = (await conn.execute(text("SELECT 1 FROM ended_executions WHERE execution_id = :id"),
                              {"id": execution_id})).first()
    return row is not None


async def mark_precomputed(conn: AsyncConnection, execution_id: str, created: int, snapshot_at: datetime) -> None:
    await conn.execute(text("""UPDATE live_executions SET precomputed = true, triggers_created = :n,
                               snapshot_at = :s WHERE execution_id = :id"""),
                       {"id": execution_id, "n": created, "s": snapshot_at})


async def end(conn: AsyncConnection, execution_id: str, now: datetime) -> int:
    """Mark the live execution inactive and cancel its pending triggers; returns how many."""
    await conn.execute(text("INSERT INTO ended_executions (execution_id) VALUES (:id) ON CONFLICT DO NOTHING"),
                       {"id": execution_id})
    await conn.execute(text("""UPDATE live_executions SET active = false, ended_at = coalesce(ended_at, :now)
                               WHERE execution_id = :id"""), {"id": execution_id, "now": now})
    result = await conn.execute(text(f"""UPDATE triggers SET status = '{st.CANCELLED}'
                                         WHERE execution_id = :id AND {status_in(st.sources(st.CANCELLED))}"""),
                                {"id": execution_id})
    return result.rowcount or 0


async def active(conn: AsyncConnection, organization_ids: Iterable[str]) -> list[LiveExecution]:
    ids = sorted(set(organization_ids))
    if not ids:
        return []
    rows = await conn.execute(text(f"""SELECT {_LIVE_COLUMNS} FROM live_executions
                                      WHERE active AND organization_id = ANY(CAST(:orgs AS uuid[]))"""),
                              {"orgs": ids})
    return [_live(r) for r in rows]


# --- the snapshot taken at launch: bulk, through a staging table ---------------------------------

class StagedTrigger(NamedTuple):
    """One trigger of the snapshot, in STAGING_COLUMNS order (a tuple: COPY writes it as is)."""

    execution_id: str
    program_id: str
    organization_id: str
    contact_id: str
    contact_name: str | None
    contact_phone: str
    contact_country: str
    attribute_value: datetime
    trigger_at: datetime
    created_at: datetime


STAGING_COLUMNS = StagedTrigger._fields


async def create_staging(conn: AsyncConnection) -> None:
    await conn.execute(text(f"""CREATE TEMP TABLE trigger_staging ON COMMIT DROP AS
                               SELECT {", ".join(STAGING_COLUMNS)} FROM triggers WITH NO DATA"""))


async def copy_into_staging(conn: AsyncConnection, rows: Sequence[StagedTrigger]) -> None:
    """COPY rows into the transaction's staging table."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    async with pg.cursor() as cur:
        async with cur.copy(f"COPY trigger_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)


async def insert_from_staging(conn: AsyncConnection) -> int:
    """Staged triggers into the table, pending; a contact that already has a pending trigger keeps it."""
    columns = ", ".join(STAGING_COLUMNS)
    result = await conn.execute(text(f"""
        INSERT INTO triggers ({columns}, status)
        SELECT {columns}, '{st.PENDING}' FROM trigger_staging
        ON CONFLICT (execution_id, contact_id) WHERE status = '{st.PENDING}' DO NOTHING"""))
    return result.rowcount or 0
