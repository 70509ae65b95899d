"""Who is in an audience: add and remove members, list them, stream them to a launch.

A membership change locks the audience row, so its contact_count stays exact under concurrent
changes; adding also key-share locks the contacts, so none is deleted meanwhile (lock order:
contacts, then the audience)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import ids, paging
from kernel.clock import get_clock
from services.audience.adapters import repository as repo
from services.audience.adapters.range_reader import RangeReader
from services.audience.adapters.rows import ContactRef, ContactRow, MembershipChange
from services.audience.domain.audiences import check_contact_ids, require_all, stream_batch_size
from services.audience.domain.errors import AudienceNotFoundError

# repo.add_members or repo.remove_members.
_Write = Callable[[AsyncConnection, uuid.UUID, list[uuid.UUID], datetime], Awaitable[MembershipChange]]


class Membership:
    def __init__(self, engine: AsyncEngine, reader: RangeReader):
        self._engine = engine
        self._reader = reader

    async def add(self, organization_id: str, audience_id: str, contact_ids: list[str]) -> MembershipChange:
        return await self._change(organization_id, audience_id, contact_ids, repo.add_members, key_share=True)

    async def remove(self, organization_id: str, audience_id: str, contact_ids: list[str]) -> MembershipChange:
        return await self._change(organization_id, audience_id, contact_ids, repo.remove_members, key_share=False)

    async def _change(self, organization_id: str, audience_id: str, contact_ids: list[str], write: _Write, *,
                      key_share: bool) -> MembershipChange:
        """Every contact must be the organization's; `key_share` keeps them from being deleted
        until the change commits."""
        org = ids.parse(organization_id, field="organizationId")
        aid = ids.parse(audience_id, AudienceNotFoundError)
        contacts = check_contact_ids(contact_ids)
        now = get_clock().now()
        async with self._engine.begin() as conn:
            found = await repo.org_contacts(conn, org, contacts, key_share=key_share)
            if await repo.get_audience(conn, org, aid, lock=True) is None:
                raise AudienceNotFoundError()
            require_all(contact_ids, found)
            return await write(conn, aid, contacts, now)

    async def list(self, organization_id: str, audience_id: str, page_size: int = 0,
                   page_token: str = "") -> tuple[list[ContactRow], str]:
        org = ids.parse(organization_id, field="organizationId")
        aid = ids.parse(audience_id, AudienceNotFoundError)
        wanted = paging.request(page_size, page_token, paging.identifier)
        async with self._engine.connect() as conn:
            if await repo.get_audience(conn, org, aid) is None:
                raise AudienceNotFoundError()
            rows = await repo.list_members(conn, aid, wanted)
        return paging.page(rows, wanted, key=lambda row: (row.id,))

    async def stream(self, organization_id: str, audience_id: str,
                     batch_size: int = 0) -> AsyncIterator[list[ContactRef]]:
        """The members by contact id, in batches of `batch_size` (the last one shorter)."""
        org = ids.parse(organization_id, field="organizationId")
        aid = ids.parse(audience_id, AudienceNotFoundError)
        limit = stream_batch_size(batch_size)
        async with self._engine.connect() as conn:
            audience = await repo.get_audience(conn, org, aid)
        if audience is None:
            raise AudienceNotFoundError()
        async for rows in self._reader.members(aid, audience.contact_count, limit):
            yield rows
