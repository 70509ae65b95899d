"""DIDs in PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.db import after_key
from kernel.errors import AlreadyExistsError
from kernel.paging import PageRequest
from services.dialer.adapters.batching import Coalescer


@dataclass(frozen=True)
class DidRow:
    id: str
    number: str
    country: str
    status: str
    organization_id: str | None
    created_at: datetime
    deleted_at: datetime | None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


_COLUMNS = "id::text, number, country, status, organization_id::text, created_at, deleted_at"


def _row(r) -> DidRow:
    return DidRow(r[0], r[1], r[2].strip(), r[3], r[4], r[5], r[6])


class DidRepository:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        # The pools of the calls being placed together are read in one query.
        self._lookups = Coalescer(self._get_many_batch)

    async def add(self, number: str, country: str, organization_id: str | None, status: str,
                  now: datetime) -> DidRow:
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(text(f"""
                    INSERT INTO dids (id, number, country, status, organization_id, created_at, updated_at)
                    VALUES (:id, :number, :country, :status, :org, :now, :now)
                    RETURNING {_COLUMNS}"""), {
                    "id": str(uuid.uuid4()), "number": number, "country": country, "status": status,
                    "org": organization_id, "now": now})).one()
        except IntegrityError:
            raise AlreadyExistsError(f"number: DID {number} already exists", field="number") from None
        return _row(row)

    async def get_many(self, ids: list[str]) -> dict[str, DidRow]:
        if not ids:
            return {}
        return await self._lookups(ids)

    async def _get_many_batch(self, lists: list[list[str]]) -> list[dict[str, DidRow]]:
        wanted = list({did_id for ids in lists for did_id in ids})
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT {_COLUMNS} FROM dids WHERE id = ANY(CAST(:ids AS uuid[]))"),
                                       {"ids": wanted})).all()
        found = {r[0]: _row(r) for r in rows}
        return [{i: found[i] for i in ids if i in found} for ids in lists]

    async def set_status(self, did_id: str, status: str, now: datetime) -> DidRow | None:
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                UPDATE dids SET status = :status, updated_at = :now
                WHERE id = :id AND deleted_at IS NULL RETURNING {_COLUMNS}"""),
                {"id": did_id, "status": status, "now": now})).first()
        return _row(row) if row else None

    async def soft_delete(self, did_id: str, now: datetime) -> DidRow | None:
        """Marks the DID deleted; deleting a deleted DID answers it unchanged."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                UPDATE dids SET deleted_at = coalesce(deleted_at, :now), updated_at = :now
                WHERE id = :id RETURNING {_COLUMNS}"""), {"id": did_id, "now": now})).first()
        return _row(row) if row else None

    async def list_available(self, organization_id: str, wanted: PageRequest) -> list[DidRow]:
        """Active, not deleted, shared or the organization's own, by number, after the page's key."""
        after, params = after_key(wanted, "number, id", ("text", "uuid"))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM dids
                WHERE deleted_at IS NULL AND status = 'active'
                  AND (organization_id IS NULL OR organization_id = CAST(:org AS uuid)) AND {after}
                ORDER BY number, id LIMIT :limit"""), {"org": organization_id, "limit": wanted.fetch, **params})).all()
        return [_row(r) for r in rows]

    async def list_all(self, organization_id: str | None) -> list[DidRow]:
        """Not deleted, active or not, by number; with an organization, the shared ones and its own."""
        where = "deleted_at IS NULL"
        if organization_id is not None:
            where += " AND (organization_id IS NULL OR organization_id = CAST(:org AS uuid))"
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT {_COLUMNS} FROM dids WHERE {where} ORDER BY number, id"),
                                       {"org": organization_id})).all()
        return [_row(r) for r in rows]
