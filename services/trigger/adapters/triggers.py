"""PostgreSQL access to contact triggers (schema `trigger`): firing due ones, following contact
changes, listing. Every status change goes through the domain's transition table (domain/status.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.paging import PageRequest
from services.trigger.adapters.live_executions import LiveExecution
from services.trigger.adapters.sql import status_in
from services.trigger.domain import status as st


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


@dataclass(frozen=True)
class FiredTrigger:
    """A trigger claimed to fire, with the output audience its contact joins."""

    trigger: TriggerRow
    output_audience_id: str


@dataclass(frozen=True)
class ListedTrigger:
    """A trigger as listed, with its execution's creation time (the first part of the sort key)."""

    trigger: TriggerRow
    execution_created_at: datetime


@dataclass(frozen=True)
class ContactState:
    pending_id: str | None
    pending_value: datetime | None
    last_fired_value: datetime | None
    last_source_at: datetime | None


def _trigger(row: Row) -> TriggerRow:
    return TriggerRow(**{k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row._mapping.items()
                         if k in TriggerRow.__dataclass_fields__})


# --- evaluation --------------------------------------------------------------------------------

_FIRED_RETURNING = ("t.id, t.execution_id, t.program_id, t.organization_id, t.contact_id, t.contact_name, "
                    "t.contact_phone, t.contact_country, t.attribute_value, t.trigger_at, t.status, t.triggered_at, "
                    "t.created_at, e.output_audience_id")


def _fired(row: Row) -> FiredTrigger:
    return FiredTrigger(_trigger(row), row._mapping["output_audience_id"])


async def claim_due(conn: AsyncConnection, now: datetime, limit: int, lease_seconds: float) -> list[FiredTrigger]:
    """Fire up to `limit` due pending triggers of active executions: they turn triggered at once.

    SKIP LOCKED lets every replica claim a different slice; the publish lease keeps the
    sweeper of another replica off them while this one publishes.
    """
    rows = await conn.execute(text(f"""
        WITH due AS (
            SELECT t.id FROM triggers t
            JOIN live_executions le ON le.execution_id = t.execution_id AND le.active
            WHERE {status_in(st.sources(st.TRIGGERED), "t.status")} AND t.trigger_at <= :now
            ORDER BY t.trigger_at
            LIMIT :limit
            FOR UPDATE OF t SKIP LOCKED
        )
        UPDATE triggers t SET status = '{st.TRIGGERED}', triggered_at = :now, published = false,
               publish_lease_until = now() + make_interval(secs => :lease)
        FROM due, live_executions e
        WHERE t.id = due.id AND e.execution_id = t.execution_id
        RETURNING {_FIRED_RETURNING}"""), {"now": now, "limit": limit, "lease": lease_seconds})
    return [_fired(r) for r in rows]


async def claim_unpublished(conn: AsyncConnection, limit: int, lease_seconds: float) -> list[FiredTrigger]:
    """Triggered but never published (a crash between commit and publish), lease expired."""
    rows = await conn.execute(text(f"""
        WITH stale AS (
            SELECT id FROM triggers
            WHERE status = '{st.TRIGGERED}' AND NOT published
              AND (publish_lease_until IS NULL OR publish_lease_until < now())
            ORDER BY publish_lease_until NULLS FIRST
            LIMIT :limit
            FOR UPDATE SKIP LOCKED
        )
        UPDATE triggers t SET publish_lease_until = now() + make_interval(secs => :lease)
        FROM stale, live_executions e
        WHERE t.id = stale.id AND e.execution_id = t.execution_id
        RETURNING {_FIRED_RETURNING}"""), {"limit": limit, "lease": lease_seconds})
    return [_fired(r) for r in rows]


async def mark_published(conn: AsyncConnection, ids: Sequence[str]) -> None:
    await conn.execute(text("UPDATE triggers SET published = true WHERE id = ANY(CAST(:ids AS uuid[]))"),
                       {"ids": list(ids)})


# --- contact changes ---------------------------------------------------------------------------

async def lock_contact(conn: AsyncConnection, execution_id: str, contact_id: str) -> ContactState:
    """Serialize changes of one (execution, contact) and read its triggers."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                       {"key": f"{execution_id}:{contact_id}"})
    pending = (await conn.execute(text(f"""
        SELECT id, attribute_value FROM triggers
        WHERE execution_id = :e AND contact_id = :c AND status = '{st.PENDING}' FOR UPDATE"""),
        {"e": execution_id, "c": contact_id})).first()
    fired = (await conn.execute(text(f"""
        SELECT attribute_value FROM triggers
        WHERE execution_id = :e AND contact_id = :c AND status = '{st.TRIGGERED}'
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


async def create(conn: AsyncConnection, le: LiveExecution, contact_id: str, name: str | None, phone: str,
                 country: str, value: datetime, trigger_at: datetime, now: datetime,
                 source_at: datetime | None) -> None:
    await conn.execute(text(f"""
        INSERT INTO triggers (execution_id, program_id, organization_id, contact_id, contact_name, contact_phone,
                              contact_country, attribute_value, trigger_at, status, source_at, created_at)
        VALUES (:e, :p, :o, :c, :name, :phone, :country, :value, :at, '{st.PENDING}', :source, :now)
        ON CONFLICT (execution_id, contact_id) WHERE status = '{st.PENDING}' DO NOTHING"""),
        {"e": le.execution_id, "p": le.program_id, "o": le.organization_id, "c": contact_id, "name": name,
         "phone": phone, "country": country, "value": value, "at": trigger_at, "source": source_at, "now": now})


async def move(conn: AsyncConnection, trigger_id: str | None, value: datetime, trigger_at: datetime,
               source_at: datetime | None) -> None:
    """A pending trigger to a new date; it stays pending."""
    await conn.execute(text(f"""UPDATE triggers SET attribute_value = :value, trigger_at = :at,
                                source_at = coalesce(:source, source_at)
                                WHERE id = :id AND status = '{st.PENDING}'"""),
                       {"id": trigger_id, "value": value, "at": trigger_at, "source": source_at})


async def cancel(conn: AsyncConnection, trigger_id: str | None, source_at: datetime | None) -> None:
    """A pending trigger cancelled (no trigger id: nothing to cancel)."""
    await conn.execute(text(f"""UPDATE triggers SET status = '{st.CANCELLED}',
                                source_at = coalesce(:source, source_at)
                                WHERE id = :id AND {status_in(st.sources(st.CANCELLED))}"""),
                       {"id": trigger_id, "source": source_at})


async def refresh_contact(conn: AsyncConnection, organization_id: str, contact_id: str, name: str | None,
                          phone: str, country: str) -> None:
    await conn.execute(text(f"""
        UPDATE triggers SET contact_name = :name, contact_phone = :phone,
               contact_country = coalesce(nullif(:country, ''), contact_country)
        WHERE contact_id = :c AND organization_id = :o AND status = '{st.PENDING}'
          AND (contact_name IS DISTINCT FROM :name OR contact_phone <> :phone
               OR (:country <> '' AND contact_country <> :country))"""),
        {"c": contact_id, "o": organization_id, "name": name, "phone": phone, "country": country})


# --- listing -----------------------------------------------------------------------------------

async def list_page(conn: AsyncConnection, organization_id: str, program_id: str, status: str | None,
                    wanted: PageRequest) -> list[ListedTrigger]:
    """The program's triggers: newest live execution first, then by triggerAt; `wanted.fetch` of
    them after `wanted.after` (execution created_at, execution id, trigger_at, id)."""
    params: dict[str, Any] = {"o": organization_id, "p": program_id, "limit": wanted.fetch}
    where = ["e.organization_id = :o", "e.program_id = :p"]
    if status:
        where.append("t.status = :status")
        params["status"] = status
    if wanted.after:
        params.update(zip(("ce", "ci", "ta", "ti"), wanted.after, strict=True))
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
    return [ListedTrigger(_trigger(r), r._mapping["execution_created_at"]) for r in rows]
