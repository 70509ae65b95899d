"""SQL of the operator's lists: every organization, an organization's API keys.

Keys are read without their secret hash: nothing here can reveal a key.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.account.domain.organizations import Organization


@dataclass(frozen=True)
class ApiKeyListed:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


async def organizations(conn: AsyncConnection) -> list[Organization]:
    rows = (await conn.execute(text("SELECT id, name, created_at FROM organizations ORDER BY created_at, id"))).all()
    return [Organization(str(r.id), r.name, r.created_at) for r in rows]


async def api_keys(conn: AsyncConnection, org_id: uuid.UUID) -> list[ApiKeyListed]:
    rows = (await conn.execute(text(
        "SELECT id, name, created_at, revoked_at FROM api_keys WHERE organization_id = :org "
        "ORDER BY created_at, id"), {"org": org_id})).all()
    return [ApiKeyListed(r.id, r.name, r.created_at, r.revoked_at) for r in rows]
