"""Contacts of an organization: create, read, list, update, delete and bulk import.

Every change is one transaction; its contact.* events are staged in the outbox inside that
transaction and published right after commit. A phone number is unique per organization: the
database's constraint decides, and its violation is answered as a conflict on the phone.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors, ids
from kernel.clock import get_clock
from services.audience.adapters import events
from services.audience.adapters import repository as repo
from services.audience.adapters.events import EventPublisher
from services.audience.adapters.rows import ContactRow
from services.audience.domain.contacts import (
    MAX_BULK,
    ContactFields,
    merge_attributes,
    validate_attributes,
    validate_bulk,
    validate_contact,
    validate_name,
)
from services.audience.domain.errors import AudienceNotFoundError, ContactNotFoundError
from services.audience.domain.phones import normalise_phone
from services.audience.domain.timezones import validate_timezone

ContactInput = ContactFields  # (phone, name, attributes, timezone)


def _phone_unique() -> errors.AlreadyExistsError:
    return errors.AlreadyExistsError("phone: a contact with this phone number already exists", field="phone")


def _key(organization_id: str, contact_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The organization's id and the contact's (an unreadable one: no such contact)."""
    return ids.parse(organization_id, field="organizationId"), ids.parse(contact_id, ContactNotFoundError)


def _existing(contact: ContactRow | None) -> ContactRow:
    if contact is None:
        raise ContactNotFoundError()
    return contact


class Contacts:
    def __init__(self, engine: AsyncEngine, publisher: EventPublisher):
        self._engine = engine
        self._publisher = publisher

    async def create(self, organization_id: str, phone: str, name: str | None,
                     attributes: dict[str, Any], timezone: str | None = None) -> ContactRow:
        org = ids.parse(organization_id, field="organizationId")
        now = get_clock().now()
        with repo.unique(repo.PHONE_UNIQUE, _phone_unique()):
            async with self._engine.begin() as conn:
                valid = validate_contact(phone, name, attributes, await repo.attribute_types(conn, org),
                                         timezone=timezone)
                contact = ContactRow(uuid.uuid4(), org, valid.phone, valid.name, valid.country, valid.attributes,
                                     now, now, valid.timezone)
                await repo.insert_contacts(conn, org, [contact.id], [valid], now)
                event = events.contact_changed("created", organization_id, contact, contact.attributes, now)
                await events.stage(conn, [event])
        await self._publisher.publish_committed([event])
        return contact

    async def get(self, organization_id: str, contact_id: str) -> ContactRow:
        org, cid = _key(organization_id, contact_id)
        async with self._engine.connect() as conn:
            return _existing(await repo.get_contact(conn, org, cid))

    async def list(self, organization_id: str, page_size: int = 0,
                   page_token: str = "") -> tuple[list[ContactRow], str]:
        org = ids.parse(organization_id, field="organizationId")
        return await repo.organization_page(self._engine, repo.list_contacts, org, page_size, page_token)

    async def update(self, organization_id: str, contact_id: str, *, phone: str | None = None,
                     name: str | None = None, clear_name: bool = False,
                     attributes: dict[str, Any] | None = None, timezone: str | None = None,
                     clear_timezone: bool = False) -> ContactRow:
        org, cid = _key(organization_id, contact_id)
        now = get_clock().now()
        with repo.unique(repo.PHONE_UNIQUE, _phone_unique()):
            async with self._engine.begin() as conn:
                current = _existing(await repo.get_contact(conn, org, cid, lock=True))
                updated = current
                if phone is not None:
                    e164, country = normalise_phone(phone)
                    updated = replace(updated, phone=e164, country=country)
                if clear_name:
                    updated = replace(updated, name=None)
                elif name is not None:
                    updated = replace(updated, name=validate_name(name, "name"))
                if clear_timezone:
                    updated = replace(updated, timezone=None)
                elif timezone is not None:
                    updated = replace(updated, timezone=validate_timezone(timezone))
                changed: dict[str, Any] = {}
                if attributes:
                    patch = validate_attributes(attributes, await repo.attribute_types(conn, org), allow_null=True)
                    merged, changed = merge_attributes(current.attributes, patch)
                    updated = replace(updated, attributes=merged)
                updated = replace(updated, updated_at=now)
                await repo.update_contact(conn, updated)
                event = events.contact_changed("updated", organization_id, updated, changed, now)
                await events.stage(conn, [event])
        await self._publisher.publish_committed([event])
        return updated

    async def delete(self, organization_id: str, contact_id: str) -> None:
        org, cid = _key(organization_id, contact_id)
        now = get_clock().now()
        async with self._engine.begin() as conn:
            current = _existing(await repo.get_contact(conn, org, cid, lock=True))
            await repo.delete_contact(conn, cid, now)
            removed = {slug: None for slug in current.attributes}
            event = events.contact_changed("deleted", organization_id, current, removed, now)
            await events.stage(conn, [event])
        await self._publisher.publish_committed([event])

    async def bulk_import(self, organization_id: str, items: list[ContactInput],
                          audience_id: str = "") -> list[uuid.UUID]:
        """All or nothing: every contact is valid and new, else none is written."""
        org = ids.parse(organization_id, field="organizationId")
        if len(items) > MAX_BULK:  # before any per-item work
            raise errors.ValidationError(f"contacts: at most {MAX_BULK} contacts per import (got {len(items)})",
                                         field="contacts")
        audience = ids.parse(audience_id, AudienceNotFoundError) if audience_id else None
        now = get_clock().now()
        concurrent = errors.AlreadyExistsError("contacts: a phone number was imported concurrently; retry",
                                               field="contacts")
        with repo.unique(repo.PHONE_UNIQUE, concurrent):
            async with self._engine.begin() as conn:
                valid = validate_bulk(items, await repo.attribute_types(conn, org))
                if audience is not None and await repo.get_audience(conn, org, audience, lock=True) is None:
                    raise AudienceNotFoundError()
                taken = await repo.existing_phones(conn, org, [c.phone for c in valid])
                if taken:
                    field = f"contacts[{next(i for i, c in enumerate(valid) if c.phone in taken)}].phone"
                    raise errors.AlreadyExistsError(
                        f"{field}: a contact with this phone number already exists", field=field)
                contact_ids = [uuid.uuid4() for _ in valid]
                await repo.insert_contacts(conn, org, contact_ids, valid, now)
                if audience is not None:
                    await repo.add_members(conn, audience, contact_ids, now)
                staged = [events.contact_changed("created", organization_id,
                                                 ContactRow(cid, org, c.phone, c.name, c.country, c.attributes,
                                                            now, now, c.timezone), c.attributes, now)
                          for cid, c in zip(contact_ids, valid, strict=True)]
                await events.stage(conn, staged)
        await self._publisher.publish_committed(staged)
        return contact_ids
