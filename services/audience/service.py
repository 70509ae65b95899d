"""Audience use cases: custom attributes, contacts, audiences and members.

Every change is one transaction; its contact.* events are staged in the outbox inside
that transaction and published right after commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import errors, paging
from kernel.clock import get_clock
from services.audience.adapters import events
from services.audience.adapters import repository as repo
from services.audience.adapters.events import EventPublisher, PendingEvent
from services.audience.domain.attributes import define
from services.audience.domain.contacts import (
    MAX_BULK,
    merge_attributes,
    validate_attributes,
    validate_bulk,
    validate_contact,
    validate_name,
)
from services.audience.domain.phones import normalise_phone

DEFAULT_STREAM_BATCH = 5000
PARALLEL_PAGES = 3  # member pages a stream reads at once
MAX_STREAM_BATCH = 20_000
MAX_AUDIENCE_NAME = 200
MAX_DESCRIPTION = 2000
_DUPLICATE_PHONE = "phone: a contact with this phone number already exists"


def _uuid(value: str, error: type[errors.DomainError]) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise error() from None


def _org(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise errors.ValidationError("organizationId: must be a UUID", field="organizationId") from None


def _is_unique_violation(exc: IntegrityError, constraint: str) -> bool:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None) == constraint


def _time_key(token: str) -> tuple[datetime, uuid.UUID] | None:
    key = paging.decode(token, 2)
    return (paging.instant(key[0]), uuid.UUID(paging.identifier(key[1]))) if key else None


def _next_time_key(rows: list[Any], limit: int) -> str:
    return paging.encode(rows[-1].created_at, rows[-1].id) if len(rows) == limit else ""


def _batch_size(requested: int) -> int:
    if requested < 0:
        raise errors.ValidationError("batchSize: must be positive", field="batchSize")
    return min(requested or DEFAULT_STREAM_BATCH, MAX_STREAM_BATCH)


def _contact_ids(values: list[str]) -> list[uuid.UUID]:
    if len(values) > MAX_BULK:
        raise errors.ValidationError(f"contactIds: at most {MAX_BULK} ids per request", field="contactIds")
    ids: list[uuid.UUID] = []
    for i, value in enumerate(values):
        try:
            ids.append(uuid.UUID(value))
        except (ValueError, TypeError, AttributeError):
            raise errors.ContactNotFoundError(f"contactIds[{i}]: contact not found") from None
    return list(dict.fromkeys(ids))


def _require_all(originals: list[str], found: set[uuid.UUID]) -> None:
    for i, value in enumerate(originals):
        if uuid.UUID(value) not in found:
            raise errors.ContactNotFoundError(f"contactIds[{i}]: contact not found")


class AudienceService:
    def __init__(self, engine: AsyncEngine, publisher: EventPublisher):
        self.engine = engine
        self.publisher = publisher

    # --- custom attributes ---

    async def create_attribute(self, organization_id: str, name: str, slug: str, type_: str) -> repo.AttributeRow:
        org = _org(organization_id)
        definition = define(name, slug, type_)
        row = repo.AttributeRow(uuid.uuid4(), org, definition.name, definition.slug, definition.type,
                                get_clock().now())
        try:
            async with self.engine.begin() as conn:
                await repo.insert_attribute(conn, row)
        except IntegrityError as exc:
            if _is_unique_violation(exc, "attributes_slug_unique"):
                raise errors.AlreadyExistsError(
                    f"slug: a custom attribute with slug {row.slug!r} already exists", field="slug") from None
            raise
        return row

    async def list_attributes(self, organization_id: str, page_size: int = 0,
                              page_token: str = "") -> tuple[list[repo.AttributeRow], str]:
        org = _org(organization_id)
        limit = paging.page_size(page_size)
        async with self.engine.connect() as conn:
            rows = await repo.list_attributes(conn, org, _time_key(page_token), limit)
        return rows, _next_time_key(rows, limit)

    # --- contacts ---

    async def create_contact(self, organization_id: str, phone: str, name: str | None,
                             attributes: dict[str, Any]) -> repo.ContactRow:
        org = _org(organization_id)
        now = get_clock().now()
        try:
            async with self.engine.begin() as conn:
                types = await repo.attribute_types(conn, org)
                valid = validate_contact(phone, name, attributes, types)
                contact = repo.ContactRow(uuid.uuid4(), org, valid.phone, valid.name, valid.country,
                                          valid.attributes, now, now)
                await repo.insert_contacts(conn, org, [contact.id], [valid], now)
                event = events.contact_changed("created", organization_id, contact, contact.attributes, now)
                await events.stage(conn, [event])
        except IntegrityError as exc:
            if _is_unique_violation(exc, "contacts_phone_unique"):
                raise errors.AlreadyExistsError(_DUPLICATE_PHONE, field="phone") from None
            raise
        await self.publisher.publish_committed([event])
        return contact

    async def get_contact(self, organization_id: str, contact_id: str) -> repo.ContactRow:
        org = _org(organization_id)
        cid = _uuid(contact_id, errors.ContactNotFoundError)
        async with self.engine.connect() as conn:
            contact = await repo.get_contact(conn, org, cid)
        if contact is None:
            raise errors.ContactNotFoundError()
        return contact

    async def list_contacts(self, organization_id: str, page_size: int = 0,
                            page_token: str = "") -> tuple[list[repo.ContactRow], str]:
        org = _org(organization_id)
        limit = paging.page_size(page_size)
        async with self.engine.connect() as conn:
            rows = await repo.list_contacts(conn, org, _time_key(page_token), limit)
        return rows, _next_time_key(rows, limit)

    async def update_contact(self, organization_id: str, contact_id: str, *, phone: str | None = None,
                             name: str | None = None, clear_name: bool = False,
                             attributes: dict[str, Any] | None = None) -> repo.ContactRow:
        org = _org(organization_id)
        cid = _uuid(contact_id, errors.ContactNotFoundError)
        now = get_clock().now()
        try:
            async with self.engine.begin() as conn:
                current = await repo.get_contact(conn, org, cid, lock=True)
                if current is None:
                    raise errors.ContactNotFoundError()
                updated = current
                if phone is not None:
                    e164, country = normalise_phone(phone)
                    updated = replace(updated, phone=e164, country=country)
                if clear_name:
                    updated = replace(updated, name=None)
                elif name is not None:
                    updated = replace(updated, name=validate_name(name, "name"))
                changed: dict[str, Any] = {}
                if attributes:
                    types = await repo.attribute_types(conn, org)
                    patch = validate_attributes(attributes, types, allow_null=True)
                    merged, changed = merge_attributes(current.attributes, patch)
                    updated = replace(updated, attributes=merged)
                updated = replace(updated, updated_at=now)
                await repo.update_contact(conn, updated)
                event = events.contact_changed("updated", organization_id, updated, changed, now)
                await events.stage(conn, [event])
        except IntegrityError as exc:
            if _is_unique_violation(exc, "contacts_phone_unique"):
                raise errors.AlreadyExistsError(_DUPLICATE_PHONE, field="phone") from None
            raise
        await self.publisher.publish_committed([event])
        return updated

    async def delete_contact(self, organization_id: str, contact_id: str) -> None:
        org = _org(organization_id)
        cid = _uuid(contact_id, errors.ContactNotFoundError)
        now = get_clock().now()
        async with self.engine.begin() as conn:
            current = await repo.get_contact(conn, org, cid, lock=True)
            if current is None:
                raise errors.ContactNotFoundError()
            await repo.delete_contact(conn, cid, now)
            removed = {slug: None for slug in current.attributes}
            event = events.contact_changed("deleted", organization_id, current, removed, now)
            await events.stage(conn, [event])
        await self.publisher.publish_committed([event])

    async def bulk_import(self, organization_id: str, items: list[tuple[str, str | None, dict[str, Any]]],
                          audience_id: str = "") -> list[uuid.UUID]:
        org = _org(organization_id)
        if len(items) > MAX_BULK:  # before any per-item work
            raise errors.ValidationError(f"contacts: at most {MAX_BULK} contacts per import (got {len(items)})",
                                         field="contacts")
        audience = _uuid(audience_id, errors.AudienceNotFoundError) if audience_id else None
        now = get_clock().now()
        try:
            async with self.engine.begin() as conn:
                types = await repo.attribute_types(conn, org)
                valid = validate_bulk(items, types)
                if audience is not None and await repo.get_audience(conn, org, audience, lock=True) is None:
                    raise errors.AudienceNotFoundError()
                taken = await repo.existing_phones(conn, org, [c.phone for c in valid])
                if taken:
                    index = next(i for i, c in enumerate(valid) if c.phone in taken)
                    field = f"contacts[{index}].phone"
                    raise errors.AlreadyExistsError(
                        f"{field}: a contact with this phone number already exists", field=field)
                ids = [uuid.uuid4() for _ in valid]
                await repo.insert_contacts(conn, org, ids, valid, now)
                if audience is not None:
                    await repo.add_members(conn, audience, ids, now)
                staged = [
                    events.contact_changed("created", organization_id,
                                           repo.ContactRow(cid, org, c.phone, c.name, c.country, c.attributes,
                                                           now, now), c.attributes, now)
                    for cid, c in zip(ids, valid, strict=True)
                ]
                await events.stage(conn, staged)
        except IntegrityError as exc:
            if _is_unique_violation(exc, "contacts_phone_unique"):
                raise errors.AlreadyExistsError("contacts: a phone number was imported concurrently; retry",
                                                field="contacts") from None
            raise
        await self.publisher.publish_committed(staged)
        return ids

    # --- audiences ---

    async def create_audience(self, organization_id: str, name: str, description: str = "") -> repo.AudienceRow:
        org = _org(organization_id)
        name = (name or "").strip()
        if not name or len(name) > MAX_AUDIENCE_NAME:
            raise errors.ValidationError(f"name: must be 1 to {MAX_AUDIENCE_NAME} characters", field="name")
        if len(description or "") > MAX_DESCRIPTION:
            raise errors.ValidationError(f"description: at most {MAX_DESCRIPTION} characters", field="description")
        now = get_clock().now()
        row = repo.AudienceRow(uuid.uuid4(), org, name, description or "", 0, now, now)
        async with self.engine.begin() as conn:
            await repo.insert_audience(conn, row)
        return row

    async def get_audience(self, organization_id: str, audience_id: str) -> repo.AudienceRow:
        org = _org(organization_id)
        aid = _uuid(audience_id, errors.AudienceNotFoundError)
        async with self.engine.connect() as conn:
            row = await repo.get_audience(conn, org, aid)
        if row is None:
            raise errors.AudienceNotFoundError()
        return row

    async def list_audiences(self, organization_id: str, page_size: int = 0,
                             page_token: str = "") -> tuple[list[repo.AudienceRow], str]:
        org = _org(organization_id)
        limit = paging.page_size(page_size)
        async with self.engine.connect() as conn:
            rows = await repo.list_audiences(conn, org, _time_key(page_token), limit)
        return rows, _next_time_key(rows, limit)

    async def add_members(self, organization_id: str, audience_id: str, contact_ids: list[str]) -> tuple[int, int]:
        org = _org(organization_id)
        aid = _uuid(audience_id, errors.AudienceNotFoundError)
        ids = _contact_ids(list(contact_ids))
        now = get_clock().now()
        async with self.engine.begin() as conn:
            # Lock order: contacts (key share), then the audience row.
            found = await repo.lock_org_contacts(conn, org, ids)
            if await repo.get_audience(conn, org, aid, lock=True) is None:
                raise errors.AudienceNotFoundError()
            _require_all(list(contact_ids), found)
            return await repo.add_members(conn, aid, ids, now)

    async def remove_members(self, organization_id: str, audience_id: str,
                             contact_ids: list[str]) -> tuple[int, int]:
        org = _org(organization_id)
        aid = _uuid(audience_id, errors.AudienceNotFoundError)
        ids = _contact_ids(list(contact_ids))
        now = get_clock().now()
        async with self.engine.begin() as conn:
            found = await repo.org_contacts(conn, org, ids)
            if await repo.get_audience(conn, org, aid, lock=True) is None:
                raise errors.AudienceNotFoundError()
            _require_all(list(contact_ids), found)
            return await repo.remove_members(conn, aid, ids, now)

    async def list_members(self, organization_id: str, audience_id: str, page_size: int = 0,
                           page_token: str = "") -> tuple[list[repo.ContactRow], str]:
        org = _org(organization_id)
        aid = _uuid(audience_id, errors.AudienceNotFoundError)
        limit = paging.page_size(page_size)
        key = paging.decode(page_token, 1)
        after = uuid.UUID(paging.identifier(key[0])) if key else None
        async with self.engine.connect() as conn:
            if await repo.get_audience(conn, org, aid) is None:
                raise errors.AudienceNotFoundError()
            rows = await repo.list_members(conn, aid, after, limit)
        token = paging.encode(rows[-1].id) if len(rows) == limit else ""
        return rows, token

    async def stream_audience(self, organization_id: str, audience_id: str,
                              batch_size: int = 0) -> AsyncIterator[list[Any]]:
        org = _org(organization_id)
        aid = _uuid(audience_id, errors.AudienceNotFoundError)
        limit = _batch_size(batch_size)
        async with self.engine.connect() as conn:
            audience = await repo.get_audience(conn, org, aid)
        if audience is None:
            raise errors.AudienceNotFoundError()
        async for rows in self._member_pages(aid, audience.contact_count, limit):
            yield rows

    async def _member_pages(self, audience_id: uuid.UUID, expected: int, limit: int) -> AsyncIterator[list[Any]]:
        """The audience's members in contact-id order, in batches of `limit` (the last one shorter).

        Reading a page is mostly waiting (round trips, the server's index lookups), so the id space
        is cut into ranges of about `limit` members each (ids are random UUIDs, spread evenly) and
        up to PARALLEL_PAGES ranges are read at once, each in its own short transactions (a slow
        reader never pins a connection); what they read is handed on in order."""
        ranges = max(1, -(-expected // limit))
        bounds = [None, *(uuid.UUID(int=(i << 128) // ranges) for i in range(1, ranges)), None]

        async def read(low: Any, high: Any) -> list[Any]:
            found: list[Any] = []
            after = None
            while True:  # a range holding far more than expected is read page by page
                async with self.engine.connect() as conn:
                    rows = await repo.member_refs(conn, audience_id, after, 2 * limit, low=low, high=high)
                found.extend(rows)
                if len(rows) < 2 * limit:
                    return found
                after = rows[-1].id

        reading: deque[asyncio.Task] = deque()
        pending: list[Any] = []
        try:
            for i in range(ranges):
                reading.append(asyncio.create_task(read(bounds[i], bounds[i + 1])))
                if len(reading) < PARALLEL_PAGES and i + 1 < ranges:
                    continue
                while reading and (len(reading) >= PARALLEL_PAGES or i + 1 == ranges):
                    pending.extend(await reading.popleft())
                    while len(pending) >= limit:
                        yield pending[:limit]
                        del pending[:limit]
            if pending:
                yield pending
        finally:
            for task in reading:
                task.cancel()

    async def stream_attribute_values(self, organization_id: str, slug: str,
                                      batch_size: int = 0) -> AsyncIterator[list[Any]]:
        org = _org(organization_id)
        limit = _batch_size(batch_size)
        async with self.engine.connect() as conn:
            if await repo.get_attribute(conn, org, slug) is None:
                raise errors.AttributeNotFoundError(f"attributeSlug: no custom attribute {slug!r}")
        async for rows in self._pages(lambda conn, after: repo.attribute_value_refs(conn, org, slug, after, limit),
                                      limit):
            yield rows

    async def _pages(self, fetch: Callable[[AsyncConnection, uuid.UUID | None], Awaitable[list[Any]]],
                     limit: int) -> AsyncIterator[list[Any]]:
        """Keyset pages by contact id, each read in its own short transaction (a slow reader never
        pins a connection), the next page fetched while the caller encodes the current one."""

        async def page(after: uuid.UUID | None) -> list[Any]:
            async with self.engine.connect() as conn:
                return await fetch(conn, after)

        pending: asyncio.Task | None = asyncio.create_task(page(None))
        try:
            while pending is not None:
                rows = await pending
                pending = asyncio.create_task(page(rows[-1].id)) if len(rows) == limit else None
                if rows:
                    yield rows
        finally:
            if pending is not None:
                pending.cancel()


__all__ = ["AudienceService", "PendingEvent"]
