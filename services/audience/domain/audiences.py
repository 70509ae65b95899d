"""Audiences: their name and description, the contact ids a membership change names, and the
batch size of a stream. Pure rules, no I/O.

A membership change is all or nothing: every id must be one of the organization's contacts, and
the first one that is not (malformed ids included) is answered by its index."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from kernel import errors, ids
from services.audience.domain.contacts import MAX_BULK
from services.audience.domain.errors import ContactNotFoundError

MAX_NAME_LENGTH = 200
MAX_DESCRIPTION = 2000
DEFAULT_STREAM_BATCH = 5000
MAX_STREAM_BATCH = 20_000


def check_audience(name: str, description: str) -> tuple[str, str]:
    """(name, description) as stored."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise errors.ValidationError(f"name: must be 1 to {MAX_NAME_LENGTH} characters", field="name")
    if len(description or "") > MAX_DESCRIPTION:
        raise errors.ValidationError(f"description: at most {MAX_DESCRIPTION} characters", field="description")
    return name, description or ""


def _missing(index: int) -> errors.DomainError:
    return ContactNotFoundError(f"contactIds[{index}]: contact not found")


def check_contact_ids(values: list[str]) -> list[uuid.UUID]:
    """The distinct ids of a membership change, in request order."""
    if len(values) > MAX_BULK:
        raise errors.ValidationError(f"contactIds: at most {MAX_BULK} ids per request", field="contactIds")
    parsed: list[uuid.UUID] = []
    for i, value in enumerate(values):
        if not ids.is_uuid(value):
            raise _missing(i)
        parsed.append(ids.parse(value))
    return list(dict.fromkeys(parsed))


def require_all(values: list[str], found: Collection[uuid.UUID]) -> None:
    """Every id of the request (already checked) is among the organization's contacts."""
    for i, value in enumerate(values):
        if ids.parse(value) not in found:
            raise _missing(i)


def stream_batch_size(requested: int) -> int:
    if requested < 0:
        raise errors.ValidationError("batchSize: must be positive", field="batchSize")
    return min(requested or DEFAULT_STREAM_BATCH, MAX_STREAM_BATCH)
