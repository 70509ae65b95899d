"""Reading and writing endpoints. Every query is scoped by organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.db import after_key
from kernel.paging import PageRequest
from services.webhooks.domain.model import Endpoint

_COLUMNS = "id::text AS id, organization_id, url, events, description, enabled, created_at"


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(id=row.id, organization_id=row.organization_id, url=row.url, events=tuple(row.events),
                    description=row.description, enabled=row.enabled, created_at=row.created_at)


async def insert(conn: AsyncConnection, endpoint: Endpoint, secret: str) -> None:
    await conn.execute(text("""
        INSERT INTO endpoints (id, organization_id, url, events, description, enabled, secret, created_at, updated_at)
        VALUES (:id, :org, :url, :events, :description, :enabled, :secret, :now, :now)"""),
        {"id": endpoint.id, "org": endpoint.organization_id, "url": endpoint.url, "events": list(endpoint.events),
         "description": endpoint.description, "enabled": endpoint.enabled, "secret": secret,
         "now": endpoint.created_at})


async def get(conn: AsyncConnection, organization_id: str, endpoint_id: str, *,
              for_update: bool = False) -> Endpoint | None:
    lock = " FOR UPDATE" if for_update else ""
    row = (await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM endpoints
        WHERE id = CAST(:id AS uuid) AND organization_id = :org{lock}"""),
        {"id": endpoint_id, "org": organization_id})).first()
    return _endpoint(row) if row else None


async def list_page(conn: AsyncConnection, organization_id: str, wanted: PageRequest) -> list[Endpoint]:
    """Newest first, after the (created_at, id) of the previous page's last endpoint."""
    after, params = after_key(wanted, "created_at, id", ("timestamptz", "uuid"), descending=True)
    rows = await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM endpoints WHERE organization_id = :org AND {after}
        ORDER BY created_at DESC, id DESC LIMIT :limit"""),
        {"org": organization_id, "limit": wanted.fetch, **params})
    return [_endpoint(r) for r in rows]


async def replace(conn: AsyncConnection, endpoint: Endpoint, now: datetime) -> None:
    await conn.execute(text("""
        UPDATE endpoints SET url = :url, events = :events, description = :description, enabled = :enabled,
               updated_at = :now
        WHERE id = CAST(:id AS uuid)"""),
        {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events),
         "description": endpoint.description, "enabled": endpoint.enabled, "now": now})


async def delete(conn: AsyncConnection, organization_id: str, endpoint_id: str) -> bool:
    """Deletes the endpoint and its deliveries (cascade); False when there was none."""
    result = await conn.execute(text("""
        DELETE FROM endpoints WHERE id = CAST(:id AS uuid) AND organization_id = :org"""),
        {"id": endpoint_id, "org": organization_id})
    return bool(result.rowcount)


async def subscribed(conn: AsyncConnection, organization_ids: list[str]) -> list[Endpoint]:
    """The enabled endpoints of these organizations: what the consumers fan events out to."""
    if not organization_ids:
        return []
    rows = await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM endpoints WHERE enabled AND organization_id = ANY(:orgs)"""),
        {"orgs": sorted(set(organization_ids))})
    return [_endpoint(r) for r in rows]
