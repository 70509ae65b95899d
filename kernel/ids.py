"""Identifiers: every UUID read from a request or a message goes through here.

A malformed id is answered with the error the caller names (ExecutionNotFoundError for a path
id, ValidationError naming the field for a body field), never with a 500.
"""

from __future__ import annotations

import uuid

from kernel.errors import DomainError, ValidationError


def canonical(value: object) -> str | None:
    """The canonical text of a UUID, None when `value` is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def is_uuid(value: object) -> bool:
    return canonical(value) is not None


def parse(value: object, error: type[DomainError] = ValidationError, *, field: str | None = None) -> uuid.UUID:
    """The UUID of `value`, or `error` (with `field`, for a validation error) when malformed."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        if field is not None:
            raise error(f"{field}: must be a UUID", field=field) from None
        raise error() from None


def text(value: object, error: type[DomainError] = ValidationError, *, field: str | None = None) -> str:
    """`parse`, as canonical text."""
    return str(parse(value, error, field=field))
