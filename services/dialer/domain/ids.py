"""Identifiers as the dialer receives them: any spelling of a UUID, or not one at all."""

from __future__ import annotations

import uuid


def as_uuid(value: str) -> str | None:
    """Canonical form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        return None
