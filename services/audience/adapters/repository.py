"""SQL of the audience context. Functions take a connection; the caller owns the transaction
(`organization_page` alone reads on a connection of its own).

Every query is scoped by organization, or by an audience already found in it. Lists read
`page.fetch` rows after `page.after` in their sort order (kernel.paging cuts the page)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import errors, paging
from kernel.paging import PageRequest
from services.audience.adapters.rows import (
    AttributeRow,
    AttributeValueRef,
    AudienceRow,
    ContactRef,
    ContactRow,
    MembershipChange,
)
from services.audience.domain.contacts import ValidContact

PHONE_UNIQUE = "contacts_phone_unique"
SLUG_UNIQUE = "attributes_slug_unique"

_ATTRIBUTE_COLUMNS = "id, organization_id, name, slug, type, created_at"
_CONTACT_COLUMNS = "id, organization_id, phone, name, country, attributes, created_at, updated_at, timezone"
_AUDIENCE_COLUMNS = "id, organization_id, name, description, contact_count, created_at, updated_at"
# Newest last, keyset on (created_at, id): the order of every organization-wide list.
_AFTER_TIME_KEY = ("AND (CAST(:after_ts AS timestamptz) IS NULL "
                   "  OR (created_at, id) > (CAST(:after_ts AS timestamptz), CAST(:after_id AS uuid))) "
                   "ORDER BY created_at, id LIMIT :limit")


@contextlib.contextmanager
def unique(constraint: str, error: errors.DomainError) -> Iterator[None]:
    """Within the block (a transaction, its commit included), the violation of that unique
    constraint is answered with `error`."""
    try:
        yield
    except IntegrityError as exc:
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) == constraint:
            raise error from None
        raise


Listed = TypeVar("Listed", AttributeRow, ContactRow, AudienceRow)


async def organization_page(engine: AsyncEngine,
                            read: Callable[[AsyncConnection, uuid.UUID, PageRequest], Awaitable[list[Listed]]],
                            org: uuid.UUID, page_size: int, page_token: str) -> tuple[list[Listed], str]:
    """One page of an organization-wide list (`read`: one of the list_* below, in the order of
    _AFTER_TIME_KEY) and the next page's cursor."""
    wanted = paging.request(page_size, page_token, paging.instant, paging.identifier)
    async with engine.connect() as conn:
        rows = await read(conn, org, wanted)
    return paging.page(rows, wanted, key=lambda row: (row.created_at, row.id))


async def _by_id(conn: AsyncConnection, columns: str, table: str, org: uuid.UUID, row_id: uuid.UUID,
                 lock: bool) -> Row[Any] | None:
    return (await conn.execute(text(
        f"SELECT {columns} FROM {table} WHERE organization_id = :org AND id = :id"
        + (" FOR UPDATE" if lock else "")), {"org": org, "id": row_id})).first()


async def _organization_list(conn: AsyncConnection, columns: str, table: str, org: uuid.UUID,
                             page: PageRequest) -> list[Row[Any]]:
    after = page.after or (None, None)
    return list(await conn.execute(text(
        f"SELECT {columns} FROM {table} WHERE organization_id = :org {_AFTER_TIME_KEY}"),
        {"org": org, "after_ts": after[0], "after_id": after[1], "limit": page.fetch}))


def _contact(row: Row[Any]) -> ContactRow:
    return ContactRow(row.id, row.organization_id, row.phone, row.name, row.country, row.attributes,
                      row.created_at, row.updated_at, row.timezone)


def _audience(row: Row[Any]) -> AudienceRow:
    return AudienceRow(row.id, row.organization_id, row.name, row.description, row.contact_count,
                       row.created_at, row.updated_at)


def _attribute(row: Row[Any]) -> AttributeRow:
    return AttributeRow(row.id, row.organization_id, row.name, row.slug, row.type, row.created_at)


# --- attributes ---

async def insert_attribute(conn: AsyncConnection, row: AttributeRow) -> None:
    await conn.execute(text(
        "INSERT INTO attributes (id, organization_id, name, slug, type, created_at) "
        "VALUES (:id, :org, :name, :slug, :type, :created_at)"),
        {"id": row.id, "org": row.organization_id, "name": row.name, "slug": row.slug, "type": row.type,
         "created_at": row.created_at})


async def attribute_types(conn: AsyncConnection, org: uuid.UUID) -> dict[str, str]:
    rows = await conn.execute(text("SELECT slug, type FROM attributes WHERE organization_id = :org"), {"org": org})
    return {r.slug: r.type for r in rows}


async def get_attribute(conn: AsyncConnection, org: uuid.UUID, slug: str) -> AttributeRow | None:
    row = (await conn.execute(text(
        f"SELECT {_ATTRIBUTE_COLUMNS} FROM attributes WHERE organization_id = :org AND slug = :slug"),
        {"org": org, "slug": slug})).first()
    return _attribute(row) if row else None


async def list_attributes(conn: AsyncConnection, org: uuid.UUID, page: PageRequest) -> list[AttributeRow]:
    return [_attribute(r) for r in await _organization_list(conn, _ATTRIBUTE_COLUMNS, "attributes", org, page)]


async def attribute_value_refs(conn: AsyncConnection, org: uuid.UUID, slug: str, after: uuid.UUID | None,
                               limit: int) -> list[AttributeValueRef]:
    """The next `limit` contacts holding `slug`, by contact id after `after`."""
    rows = await conn.execute(text(
        "SELECT id, phone, name, country, attributes ->> :slug AS value, coalesce(timezone, '') AS timezone "
        "FROM contacts "
        "WHERE organization_id = :org AND attributes ? :slug "
        "AND (CAST(:after AS uuid) IS NULL OR id > CAST(:after AS uuid)) "
        "ORDER BY id LIMIT :limit"),
        {"org": org, "slug": slug, "after": after, "limit": limit})
    return list(map(AttributeValueRef._make, rows))


# --- contacts ---

async def insert_contacts(conn: AsyncConnection, org: uuid.UUID, ids: list[uuid.UUID],
                          contacts: list[ValidContact], now: datetime) -> None:
    """One statement for the whole batch (arrays unnested server-side)."""
    await conn.execute(text(
        "INSERT INTO contacts (id, organization_id, phone, name, country, attributes, created_at, updated_at, "
        "                      timezone) "
        "SELECT t.id, :org, t.phone, t.name, t.country, CAST(t.attributes AS jsonb), :now, :now, t.timezone "
        "FROM unnest(CAST(:ids AS uuid[]), CAST(:phones AS text[]), CAST(:names AS text[]), "
        "            CAST(:countries AS text[]), CAST(:attributes AS text[]), CAST(:timezones AS text[])) "
        "     AS t(id, phone, name, country, attributes, timezone)"),
        {"org": org, "now": now, "ids": ids, "phones": [c.phone for c in contacts],
         "names": [c.name for c in contacts], "countries": [c.country for c in contacts],
         "attributes": [json.dumps(c.attributes) for c in contacts],
         "timezones": [c.timezone for c in contacts]})


async def contacts_by_ids(conn: AsyncConnection, ids: list[uuid.UUID]) -> list[ContactRow]:
    """The contacts of these ids that still exist, in id order."""
    rows = await conn.execute(text(
        f"SELECT {_CONTACT_COLUMNS} FROM contacts WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id"), {"ids": ids})
    return [_contact(r) for r in rows]


async def existing_phones(conn: AsyncConnection, org: uuid.UUID, phones: list[str]) -> set[str]:
    rows = await conn.execute(text(
        "SELECT phone FROM contacts WHERE organization_id = :org AND phone = ANY(CAST(:phones AS text[]))"),
        {"org": org, "phones": phones})
    return {r.phone for r in rows}


async def get_contact(conn: AsyncConnection, org: uuid.UUID, contact_id: uuid.UUID,
                      lock: bool = False) -> ContactRow | None:
    row = await _by_id(conn, _CONTACT_COLUMNS, "contacts", org, contact_id, lock)
    return _contact(row) if row else None


async def list_contacts(conn: AsyncConnection, org: uuid.UUID, page: PageRequest) -> list[ContactRow]:
    return [_contact(r) for r in await _organization_list(conn, _CONTACT_COLUMNS, "contacts", org, page)]


async def update_contact(conn: AsyncConnection, contact: ContactRow) -> None:
    await conn.execute(text(
        "UPDATE contacts SET phone = :phone, name = :name, country = :country, "
        "attributes = CAST(:attributes AS jsonb), timezone = :timezone, updated_at = :updated_at WHERE id = :id"),
        {"id": contact.id, "phone": contact.phone, "name": contact.name, "country": contact.country,
         "attributes": json.dumps(contact.attributes), "timezone": contact.timezone,
         "updated_at": contact.updated_at})


async def delete_contact(conn: AsyncConnection, contact_id: uuid.UUID, now: datetime) -> None:
    """Remove the contact and its memberships, keeping each audience's count exact."""
    await conn.execute(text(
        "WITH gone AS (DELETE FROM audience_members WHERE contact_id = :id RETURNING audience_id) "
        "UPDATE audiences a SET contact_count = a.contact_count - g.n, updated_at = :now "
        "FROM (SELECT audience_id, count(*) AS n FROM gone GROUP BY audience_id) g WHERE a.id = g.audience_id"),
        {"id": contact_id, "now": now})
    await conn.execute(text("DELETE FROM contacts WHERE id = :id"), {"id": contact_id})


async def org_contacts(conn: AsyncConnection, org: uuid.UUID, ids: list[uuid.UUID], *,
                       key_share: bool = False) -> set[uuid.UUID]:
    """The ids that are this organization's contacts; with `key_share`, locked so that none is
    deleted before the transaction ends."""
    rows = await conn.execute(text(
        "SELECT id FROM contacts WHERE organization_id = :org AND id = ANY(CAST(:ids AS uuid[]))"
        + (" FOR KEY SHARE" if key_share else "")), {"org": org, "ids": ids})
    return {r.id for r in rows}


# --- audiences ---

async def insert_audience(conn: AsyncConnection, row: AudienceRow) -> None:
    await conn.execute(text(
        "INSERT INTO audiences (id, organization_id, name, description, contact_count, created_at, updated_at) "
        "VALUES (:id, :org, :name, :description, 0, :created_at, :created_at)"),
        {"id": row.id, "org": row.organization_id, "name": row.name, "description": row.description,
         "created_at": row.created_at})


async def get_audience(conn: AsyncConnection, org: uuid.UUID, audience_id: uuid.UUID,
                       lock: bool = False) -> AudienceRow | None:
    row = await _by_id(conn, _AUDIENCE_COLUMNS, "audiences", org, audience_id, lock)
    return _audience(row) if row else None


async def list_audiences(conn: AsyncConnection, org: uuid.UUID, page: PageRequest) -> list[AudienceRow]:
    return [_audience(r) for r in await _organization_list(conn, _AUDIENCE_COLUMNS, "audiences", org, page)]


# --- members ---

async def add_members(conn: AsyncConnection, audience_id: uuid.UUID, ids: list[uuid.UUID],
                      now: datetime) -> MembershipChange:
    """Members already there are left alone."""
    row = (await conn.execute(text(
        "WITH added AS ("
        "  INSERT INTO audience_members (audience_id, contact_id, added_at) "
        "  SELECT :audience, contact_id, :now FROM unnest(CAST(:ids AS uuid[])) AS t(contact_id) "
        "  ON CONFLICT DO NOTHING RETURNING 1) "
        "UPDATE audiences SET contact_count = contact_count + (SELECT count(*) FROM added), updated_at = :now "
        "WHERE id = :audience RETURNING (SELECT count(*) FROM added) AS added, contact_count"),
        {"audience": audience_id, "ids": ids, "now": now})).one()
    return MembershipChange(row.added, row.contact_count)


async def remove_members(conn: AsyncConnection, audience_id: uuid.UUID, ids: list[uuid.UUID],
                         now: datetime) -> MembershipChange:
    row = (await conn.execute(text(
        "WITH removed AS ("
        "  DELETE FROM audience_members WHERE audience_id = :audience "
        "  AND contact_id = ANY(CAST(:ids AS uuid[])) RETURNING 1) "
        "UPDATE audiences SET contact_count = contact_count - (SELECT count(*) FROM removed), updated_at = :now "
        "WHERE id = :audience RETURNING (SELECT count(*) FROM removed) AS removed, contact_count"),
        {"audience": audience_id, "ids": ids, "now": now})).one()
    return MembershipChange(row.removed, row.contact_count)


async def list_members(conn: AsyncConnection, audience_id: uuid.UUID, page: PageRequest) -> list[ContactRow]:
    """By contact id; `page.after` is the last contact id served."""
    rows = await conn.execute(text(
        "SELECT c.id, c.organization_id, c.phone, c.name, c.country, c.attributes, c.created_at, c.updated_at, "
        "       c.timezone "
        "FROM (SELECT contact_id FROM audience_members WHERE audience_id = :audience "
        "      AND (CAST(:after AS uuid) IS NULL OR contact_id > CAST(:after AS uuid)) "
        "      ORDER BY contact_id LIMIT :limit) m "
        "CROSS JOIN LATERAL (SELECT * FROM contacts WHERE id = m.contact_id OFFSET 0) c "
        "ORDER BY m.contact_id"),
        {"audience": audience_id, "after": page.after[0] if page.after else None, "limit": page.fetch})
    return [_contact(r) for r in rows]


async def member_refs(conn: AsyncConnection, audience_id: uuid.UUID, after: str | None, limit: int, *,
                      low: uuid.UUID | None = None, high: uuid.UUID | None = None) -> list[ContactRef]:
    """The next `limit` members by contact id after `after`: a page of an audience stream; with
    `low`/`high`, only contact ids in [low, high)."""
    bounds = "".join(clause for value, clause in (
        (after, "AND contact_id > CAST(:after AS uuid) "), (low, "AND contact_id >= CAST(:low AS uuid) "),
        (high, "AND contact_id < CAST(:high AS uuid) ")) if value is not None)
    rows = await conn.execute(text(
        # The id as text: the stream sends it as a string anyway, and text is cheaper to read.
        "SELECT c.id::text AS id, c.phone, c.name, c.country, coalesce(c.timezone, '') AS timezone FROM ("
        f"  SELECT contact_id FROM audience_members WHERE audience_id = :audience {bounds}"
        "  ORDER BY contact_id LIMIT :limit) m "
        # OFFSET 0 keeps this a per-row index lookup: flattened, the planner hashes the whole table.
        "CROSS JOIN LATERAL (SELECT id, phone, name, country, timezone FROM contacts WHERE id = m.contact_id "
        "                    OFFSET 0) c "
        "ORDER BY m.contact_id"),
        {"audience": audience_id, "after": after, "low": low, "high": high, "limit": limit})
    return list(map(ContactRef._make, rows))
