"""Audiences of an organization: create, read, list."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import ids
from kernel.clock import get_clock
from services.audience.adapters import repository as repo
from services.audience.adapters.rows import AudienceRow
from services.audience.domain.audiences import check_audience
from services.audience.domain.errors import AudienceNotFoundError


class Audiences:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def create(self, organization_id: str, name: str, description: str = "") -> AudienceRow:
        org = ids.parse(organization_id, field="organizationId")
        name, description = check_audience(name, description)
        now = get_clock().now()
        row = AudienceRow(uuid.uuid4(), org, name, description, 0, now, now)
        async with self._engine.begin() as conn:
            await repo.insert_audience(conn, row)
        return row

    async def get(self, organization_id: str, audience_id: str) -> AudienceRow:
        org = ids.parse(organization_id, field="organizationId")
        aid = ids.parse(audience_id, AudienceNotFoundError)
        async with self._engine.connect() as conn:
            row = await repo.get_audience(conn, org, aid)
        if row is None:
            raise AudienceNotFoundError()
        return row

    async def list(self, organization_id: str, page_size: int = 0,
                   page_token: str = "") -> tuple[list[AudienceRow], str]:
        org = ids.parse(organization_id, field="organizationId")
        return await repo.organization_page(self._engine, repo.list_audiences, org, page_size, page_token)
