"""Custom attributes of an organization: define, list, and stream who holds one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors, ids
from kernel.clock import get_clock
from services.audience.adapters import repository as repo
from services.audience.adapters.range_reader import RangeReader
from services.audience.adapters.rows import AttributeRow, AttributeValueRef
from services.audience.domain.attributes import define
from services.audience.domain.audiences import stream_batch_size
from services.audience.domain.errors import AttributeNotFoundError


class Attributes:
    def __init__(self, engine: AsyncEngine, reader: RangeReader):
        self._engine = engine
        self._reader = reader

    async def create(self, organization_id: str, name: str, slug: str, type_: str) -> AttributeRow:
        org = ids.parse(organization_id, field="organizationId")
        definition = define(name, slug, type_)
        row = AttributeRow(uuid.uuid4(), org, definition.name, definition.slug, definition.type, get_clock().now())
        taken = errors.AlreadyExistsError(f"slug: a custom attribute with slug {row.slug!r} already exists",
                                          field="slug")
        with repo.unique(repo.SLUG_UNIQUE, taken):
            async with self._engine.begin() as conn:
                await repo.insert_attribute(conn, row)
        return row

    async def list(self, organization_id: str, page_size: int = 0,
                   page_token: str = "") -> tuple[list[AttributeRow], str]:
        org = ids.parse(organization_id, field="organizationId")
        return await repo.organization_page(self._engine, repo.list_attributes, org, page_size, page_token)

    async def stream_values(self, organization_id: str, slug: str,
                            batch_size: int = 0) -> AsyncIterator[list[AttributeValueRef]]:
        org = ids.parse(organization_id, field="organizationId")
        limit = stream_batch_size(batch_size)
        async with self._engine.connect() as conn:
            if await repo.get_attribute(conn, org, slug) is None:
                raise AttributeNotFoundError(f"attributeSlug: no custom attribute {slug!r}")
        async for rows in self._reader.attribute_values(org, slug, limit):
            yield rows
