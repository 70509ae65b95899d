"""SQL of the do-not-call list (table `dnc`, primary key (organization_id, phone)). Functions
take a connection; the caller owns the transaction. Every statement is one index operation per
number on the primary key: a write is `INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING`
(so a number already listed, or listed twice in one write, is simply not added again) and a check
is `phone = ANY(array)`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.db import after_key
from kernel.paging import PageRequest
from services.audience.adapters.rows import DncEntryRow

_COLUMNS = "organization_id, phone, reason, created_at"


def _entry(row: Row[Any]) -> DncEntryRow:
    return DncEntryRow(row.organization_id, row.phone, row.reason, row.created_at)


async def add(conn: AsyncConnection, org: uuid.UUID, phones: list[str], reason: str | None,
              now: datetime) -> int:
    """List `phones` (E.164) for the organization; answers how many were not listed before."""
    result = await conn.execute(text(
        "INSERT INTO dnc (organization_id, phone, reason, created_at) "
        "SELECT :org, t.phone, :reason, :now FROM unnest(CAST(:phones AS text[])) AS t(phone) "
        "ON CONFLICT DO NOTHING"),
        {"org": org, "phones": phones, "reason": reason, "now": now})
    return result.rowcount


async def add_pairs(conn: AsyncConnection, orgs: list[uuid.UUID], phones: list[str], reason: str,
                    now: datetime) -> int:
    """List each phones[i] for orgs[i] (numbers of several organizations in one statement)."""
    result = await conn.execute(text(
        "INSERT INTO dnc (organization_id, phone, reason, created_at) "
        "SELECT t.org, t.phone, :reason, :now "
        "FROM unnest(CAST(:orgs AS uuid[]), CAST(:phones AS text[])) AS t(org, phone) "
        "ON CONFLICT DO NOTHING"),
        {"orgs": orgs, "phones": phones, "reason": reason, "now": now})
    return result.rowcount


async def remove(conn: AsyncConnection, org: uuid.UUID, phone: str) -> bool:
    result = await conn.execute(text("DELETE FROM dnc WHERE organization_id = :org AND phone = :phone"),
                                {"org": org, "phone": phone})
    return result.rowcount > 0


async def get(conn: AsyncConnection, org: uuid.UUID, phone: str) -> DncEntryRow | None:
    row = (await conn.execute(text(f"SELECT {_COLUMNS} FROM dnc WHERE organization_id = :org AND phone = :phone"),
                              {"org": org, "phone": phone})).first()
    return _entry(row) if row else None


async def page(conn: AsyncConnection, org: uuid.UUID, wanted: PageRequest) -> list[DncEntryRow]:
    """`wanted.fetch` entries after `wanted.after` (a phone), by phone."""
    after, params = after_key(wanted, "phone", ["text"])
    rows = await conn.execute(text(
        f"SELECT {_COLUMNS} FROM dnc WHERE organization_id = :org AND {after} ORDER BY phone LIMIT :limit"),
        {"org": org, "limit": wanted.fetch, **params})
    return [_entry(r) for r in rows]


async def listed(conn: AsyncConnection, org: uuid.UUID, phones: list[str]) -> set[str]:
    """Those of `phones` that the organization lists."""
    rows = await conn.execute(text(
        "SELECT phone FROM dnc WHERE organization_id = :org AND phone = ANY(CAST(:phones AS text[]))"),
        {"org": org, "phones": phones})
    return {r.phone for r in rows}
