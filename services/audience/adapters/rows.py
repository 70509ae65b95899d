"""The rows the audience context reads and writes, typed.

Stream rows (ContactRef, AttributeValueRef) are named tuples rather than dataclasses: a launch
streams an audience of a million contacts, and they are built from the database rows at the cost
of one tuple each."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from services.audience.domain.import_errors import ImportErrorRow


@dataclass(frozen=True)
class AttributeRow:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    slug: str
    type: str
    created_at: datetime


@dataclass(frozen=True)
class ContactRow:
    id: uuid.UUID
    organization_id: uuid.UUID
    phone: str
    name: str | None
    country: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    timezone: str | None = None  # IANA name


@dataclass(frozen=True)
class AudienceRow:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    description: str
    contact_count: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MembershipChange:
    changed: int  # members added or removed
    contact_count: int  # the audience's count after the change


class ContactRef(NamedTuple):
    """A member as an audience stream sends it (the id already as text)."""

    id: str
    phone: str
    name: str | None
    country: str
    timezone: str  # "" when unset


class AttributeValueRef(NamedTuple):
    """A contact holding a custom attribute, with the attribute's value as text."""

    id: uuid.UUID
    phone: str
    name: str | None
    country: str
    value: str
    timezone: str  # "" when unset


@dataclass(frozen=True)
class DncEntryRow:
    """A number on an organization's do-not-call list."""

    organization_id: uuid.UUID
    phone: str  # E.164
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class ImportJobRow:
    """A contact import: its options, its counters and its first errors (by line)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    status: str  # running | completed | failed
    audience_id: uuid.UUID | None
    on_duplicate: str  # skip | update | fail
    atomic: bool
    rows_read: int
    created: int
    updated: int
    skipped: int
    error_count: int
    errors: list[ImportErrorRow]
    created_at: datetime
    finished_at: datetime | None
