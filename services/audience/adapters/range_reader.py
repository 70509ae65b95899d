"""Reading an audience's members, or the holders of an attribute, as a stream of batches.

Each page is read in its own short transaction, so a slow reader of the stream never pins a
connection; pages are read ahead of the caller, so the database works while the caller encodes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine

from services.audience.adapters import repository as repo
from services.audience.adapters.rows import AttributeValueRef, ContactRef

PARALLEL_RANGES = 3  # member ranges a stream reads at once


class RangeReader:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def members(self, audience_id: uuid.UUID, expected: int, limit: int) -> AsyncIterator[list[ContactRef]]:
        """The audience's members in contact-id order, in batches of `limit` (the last one shorter).

        Reading a page is mostly waiting (round trips, the server's index lookups), so the id space
        is cut into ranges of about `limit` members each (`expected` of them in all; ids are random
        UUIDs, spread evenly) and up to PARALLEL_RANGES ranges are read at once; what they read is
        handed on in order."""
        ranges = max(1, -(-expected // limit))
        bounds = [None, *(uuid.UUID(int=(i << 128) // ranges) for i in range(1, ranges)), None]
        reading: deque[asyncio.Task[list[ContactRef]]] = deque()
        pending: list[ContactRef] = []
        try:
            for i in range(ranges):
                reading.append(asyncio.create_task(self._range(audience_id, bounds[i], bounds[i + 1], 2 * limit)))
                if len(reading) < PARALLEL_RANGES and i + 1 < ranges:
                    continue
                while reading and (len(reading) >= PARALLEL_RANGES or i + 1 == ranges):
                    pending.extend(await reading.popleft())
                    while len(pending) >= limit:
                        yield pending[:limit]
                        del pending[:limit]
            if pending:
                yield pending
        finally:
            for task in reading:
                task.cancel()

    async def _range(self, audience_id: uuid.UUID, low: uuid.UUID | None, high: uuid.UUID | None,
                     page: int) -> list[ContactRef]:
        """Every member in [low, high): page by page, as a range may hold far more than expected."""
        rows = await self._member_page(audience_id, None, page, low, high)
        found = list(rows)
        while len(rows) == page:
            rows = await self._member_page(audience_id, rows[-1].id, page, low, high)
            found.extend(rows)
        return found

    async def _member_page(self, audience_id: uuid.UUID, after: str | None, page: int, low: uuid.UUID | None,
                           high: uuid.UUID | None) -> list[ContactRef]:
        async with self._engine.connect() as conn:
            return await repo.member_refs(conn, audience_id, after, page, low=low, high=high)

    async def attribute_values(self, org: uuid.UUID, slug: str, limit: int) -> AsyncIterator[list[AttributeValueRef]]:
        """The contacts holding `slug` by contact id, in batches of `limit`, the next page read while
        the caller handles the current one."""

        async def page(after: uuid.UUID | None) -> list[AttributeValueRef]:
            async with self._engine.connect() as conn:
                return await repo.attribute_value_refs(conn, org, slug, after, limit)

        pending: asyncio.Task[list[AttributeValueRef]] | None = asyncio.create_task(page(None))
        try:
            while pending is not None:
                rows = await pending
                pending = asyncio.create_task(page(rows[-1].id)) if len(rows) == limit else None
                if rows:
                    yield rows
        finally:
            if pending is not None:
                pending.cancel()
