"""PostgreSQL access of the trigger context (schema `trigger`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

TRIGGER_COLUMNS = ("id, execution_id, program_id, organization_id, contact_id, contact_name, contact_phone, "
                   "contact_country, attribute_value, trigger_at, status, triggered_at, created_at")


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


@dataclass(frozen=True)
class TriggerRow:
    id: str
    execution_id: str
    program_id: str
    organization_id: str
    contact_id: str
    contact_name: str | None
    contact_phone: str
    contact_country: str
    attribute_value: datetime
    trigger_at: datetime
    status: str
    triggered_at: datetime | None
    created_at: datetime


_LIVE_COLUMNS = ("execution_id, program_id, organization_id, attribute_slug, direction, offset_days, offset_hours, "
                 "offset_minutes, output_audience_id, active, precomputed, triggers_created, snapshot_at, created_at")


def _live(row) -> LiveExecution:
    m = row._mapping
    return LiveExecution(**{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in m.items()})


def _trigger(row) -> TriggerRow:
    m = row._mapping
    return TriggerRow(**{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in m.items()
                         if k in TriggerRow.__dataclass_fields__})


# --- live executions ---------------------------------------------------------------------------

async def insert_live_execution(conn: AsyncConnection, le: LiveExecution) -> None:
    await conn.execute(text(f"""
        INSERT INTO live_executions ({_LIVE_COLUMNS})
        VALUES (:execution_id, :program_id, :organization_id, :attribute_slug, :direction, :offset_days,
                :offset_hours, :offset_minutes, :output_audience_id, :active, :precomputed, :triggers_created,
                :snapshot_at, :created_at)
        ON CONFLICT (execution_id) DO NOTHING"""), le.__dict__)


async def lock_live_execution(conn: AsyncConnection, execution_id: str) -> LiveExecution | None:
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


async def end_execution(conn: AsyncConnection, execution_id: str, now: datetime) -> int:
    """Mark the live execution inactive and cancel its pending triggers; returns how many."""
    await conn.execute(text("INSERT INTO ended_executions (execution_id) VALUES (:id) ON CONFLICT DO NOTHING"),
                       {"id": execution_id})
    await conn.execute(text("""UPDATE live_executions SET active = false, ended_at = coalesce(ended_at, :now)
                               WHERE execution_id = :id"""), {"id": execution_id, "now": now})
    result = await conn.execute(text("""UPDATE triggers SET status = 'cancelled'
                                        WHERE execution_id = :id AND status = 'pending'"""), {"id": execution_id})
    return result.rowcount or 0


async def active_executions(conn: AsyncConnection, organization_ids: Iterable[str]) -> list[LiveExecution]:
    ids = sorted(set(organization_ids))
    if not ids:
        return []
    rows = await conn.execute(text(f"""SELECT {_LIVE_COLUMNS} FROM live_executions
                                      WHERE active AND organization_id = ANY(CAST(:orgs AS uuid[]))"""),
                              {"orgs": ids})
    return [_live(r) for r in rows]


# --- bulk pre-computation ----------------------------------------------------------------------

STAGING_COLUMNS = ("execution_id", "program_id", "organization_id", "contact_id", "contact_name", "contact_phone",
                   "contact_country", "attribute_value", "trigger_at", "created_at")


async def create_staging(conn: AsyncConnection) -> None:
    await conn.execute(text(f"""CREATE TEMP TABLE trigger_staging ON COMMIT DROP AS
                               SELECT {", ".join(STAGING_COLUMNS)} FROM triggers WITH NO DATA"""))


async def copy_into_staging(conn: AsyncConnection, rows: Sequence[tuple]) -> None:
    """COPY rows (in STAGING_COLUMNS order) into the transaction's staging table."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    async with pg.cursor() as cur:
        async with cur.copy(f"COPY trigger_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                await copy.write_row(row)


async def insert_from_staging(conn: AsyncConnection) -> int:
    """Staged triggers into the table; a contact that already has a pending trigger keeps it."""
    columns = ", ".join(STAGING_COLUMNS)
    result = await conn.execute(text(f"""
        INSERT INTO triggers ({columns}, status)
        SELECT {columns}, 'pending' FROM trigger_staging
        ON CONFLICT (execution_id, contact_id) WHERE status = 'pending' DO NOTHING"""))
    return result.rowcount or 0


# --- evaluation --------------------------------------------------------------------------------

_FIRED_RETURNING = ("t.id, t.execution_id, t.program_id, t.organization_id, t.contact_id, t.contact_name, "
                    "t.contact_phone, t.contact_country, t.attribute_value, t.trigger_at, t.status, t.triggered_at, "
                    "t.created_at, e.output_audience_id")


async def claim_due(conn: AsyncConnection, now: datetime, limit: int,
                    lease_seconds: float) -> list[tuple[TriggerRow, str]]:
    """Fire up to `limit` due pending triggers of active executions: they turn triggered at once.

    SKIP LOCKED lets every replica claim a different slice; the publish lease keeps the
    sweeper of another replica off them while this one publishes.
    """
    rows = await conn.execute(text(f"""
        WITH due AS (
            SELECT t.id FROM triggers t
            JOIN live_executions le ON le.execution_id = t.execution_id AND le.active
            WHERE t.status = 'pending' AND t.trigger_at <= :now
            ORDER BY t.trigger_at
            LIMIT :limit
            FOR UPDATE OF t SKIP LOCKED
        )
        UPDATE triggers t SET status = 'triggered', triggered_at = :now, published = false,
               publish_lease_until = now() + make_interval(secs => :lease)
        FROM due, live_executions e
        WHERE t.id = due.id AND e.execution_id = t.execution_id
        RETURNING {_FIRED_RETURNING}"""), {"now": now, "limit": limit, "lease": lease_seconds})
    return [(_trigger(r), r._mapping["output_audience_id"]) for r in rows]


async def claim_unpublished(conn: AsyncConnection, limit: int, lease_seconds: float) -> list[tuple[TriggerRow, str]]:
    """Triggered but never published (a crash between commit and publish), lease expired."""
    rows = await conn.execute(text(f"""
        WITH stale AS (
            SELECT id FROM triggers
            WHERE status = 'triggered' AND NOT published
              AND (publish_lease_until IS NULL OR publish_lease_until < now())
            ORDER BY publish_lease_until NULLS FIRST
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE triggers t SET publish_lease_until = now() + make_interval(secs => :lease)
        FROM stale, live_executions e
        WHERE t.id = stale.id AND e.execution_id = t.execution_id
        RETURNING {_FIRED_RETURNING}"""), {"limit": limit, "lease": lease_seconds})
    return [(_trigger(r), r._mapping["output_audience_id"]) for r in rows]


async def mark_published(conn: AsyncConnection, ids: Sequence[str]) -> None:
    await conn.execute(text("UPDATE triggers SET published = true WHERE id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(ids)})


# --- contact changes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ContactState:
    pending_id: str | None
    pending_value: datetime | None
    last_fired_value: datetime | None
    last_source_at: datetime | None


async def lock_contact(conn: AsyncConnection, execution_id: str, contact_id: str) -> ContactState:
    """Serialize changes of one (execution, contact) and read its triggers."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                       {"key": f"{execution_id}:{contact_id}"})
    pending = (await conn.execute(text("""
        SELECT id, attribute_value FROM triggers
        WHERE execution_id = :e AND contact_id = :c AND status = 'pending' FOR UPDATE"""),
        {"e": execution_id, "c": contact_id})).first()
    fired = (await conn.execute(text("""
        SELECT attribute_value FROM triggers
        WHERE execution_id = :e AND contact_id = :c AND status = 'triggered'
        ORDER BY triggered_at DESC, created_at DESC LIMIT 1"""), {"e": execution_id, "c": contact_id})).first()
    source = (await conn.execute(text("""
        SELECT max(source_at) FROM triggers WHERE execution_id = :e AND contact_id = :c"""),
        {"e": execution_id, "c": contact_id})).scalar()
    return ContactState(
        pending_id=str(pending[0]) if pending else None,
        pending_value=pending[1] if pending else None,
        last_fired_value=fired[0] if fired else None,
        last_source_at=source,
    )


async def create_trigger(conn: AsyncConnection, le: LiveExecution, contact_id: str, name: str | None, phone: str,
                         country: str, value: datetime, trigger_at: datetime, now: datetime,
                         source_at: datetime | None) -> None:
    await conn.execute(text("""
        INSERT INTO triggers (execution_id, program_id, organization_id, contact_id, contact_name, contact_phone,
                              contact_country, attribute_value, trigger_at, status, source_at, created_at)
        VALUES (:e, :p, :o, :c, :name, :phone, :country, :value, :at, 'pending', :source, :now)
        ON CONFLICT (execution_id, contact_id) WHERE status = 'pending' DO NOTHING"""),
        {"e": le.execution_id, "p": le.program_id, "o": le.organization_id, "c": contact_id, "name": name,
         "phone": phone, "country": country, "value": value, "at": trigger_at, "source": source_at, "now": now})


async def move_trigger(conn: AsyncConnection, trigger_id: str, value: datetime, trigger_at: datetime,
                       source_at: datetime | None) -> None:
    await conn.execute(text("""UPDATE triggers SET attribute_value = :value, trigger_at = :at,
                               source_at = coalesce(:source, source_at)
                               WHERE id = :id AND status = 'pending'"""),
                       {"id": trigger_id, "value": value, "at": trigger_at, "source": source_at})


async def cancel_trigger(conn: AsyncConnection, trigger_id: str, source_at: datetime | None) -> None:
    await conn.execute(text("""UPDATE triggers SET status = 'cancelled', source_at = coalesce(:source, source_at)
                               WHERE id = :id AND status = 'pending'"""), {"id": trigger_id, "source": source_at})


async def refresh_contact(conn: AsyncConnection, organization_id: str, contact_id: str, name: str | None,
                          phone: str, country: str) -> None:
    await conn.execute(text("""
        UPDATE triggers SET contact_name = :name, contact_phone = :phone,
               contact_country = coalesce(nullif(:country, ''), contact_country)
        WHERE contact_id = :c AND organization_id = :o AND status = 'pending'
          AND (contact_name IS DISTINCT FROM :name OR contact_phone <> :phone
               OR (:country <> '' AND contact_country <> :country))"""),
        {"c": contact_id, "o": organization_id, "name": name, "phone": phone, "country": country})


# --- listing -----------------------------------------------------------------------------------

async def list_triggers(conn: AsyncConnection, organization_id: str, program_id: str, status: str | None,
                        limit: int, after: tuple | None) -> list[tuple[TriggerRow, datetime]]:
    """The program's triggers: newest live execution first, then by triggerAt (keyset paging)."""
    params: dict = {"o": organization_id, "p": program_id, "limit": limit}
    where = ["e.organization_id = :o", "e.program_id = :p"]
    if status:
        where.append("t.status = :status")
        params["status"] = status
    if after:
        params.update(ce=after[0], ci=after[1], ta=after[2], ti=after[3])
        where.append("""(e.created_at < :ce
                         OR (e.created_at = :ce AND e.execution_id < CAST(:ci AS uuid))
                         OR (e.created_at = :ce AND e.execution_id = CAST(:ci AS uuid)
                             AND (t.trigger_at, t.id) > (:ta, CAST(:ti AS uuid))))""")
    rows = await conn.execute(text(f"""
        SELECT t.id, t.execution_id, t.program_id, t.organization_id, t.contact_id, t.contact_name,
               t.contact_phone, t.contact_country, t.attribute_value, t.trigger_at, t.status, t.triggered_at,
               t.created_at, e.created_at AS execution_created_at
        FROM triggers t JOIN live_executions e ON e.execution_id = t.execution_id
        WHERE {" AND ".join(where)}
        ORDER BY e.created_at DESC, e.execution_id DESC, t.trigger_at, t.id
        LIMIT :limit"""), params)
    return [(_trigger(r), r._mapping["execution_created_at"]) for r in rows]
