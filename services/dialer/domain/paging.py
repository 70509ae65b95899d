"""Opaque keyset cursors and page sizes for list endpoints."""

from __future__ import annotations

import base64
import json
import uuid

from kernel.errors import ValidationError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def page_size(limit: int) -> int:
    if limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode_cursor(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int) -> list[str] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except Exception:
        raise ValidationError("cursor: invalid cursor", field="cursor") from None
    if not isinstance(key, list) or len(key) != parts or not all(isinstance(k, str) for k in key):
        raise ValidationError("cursor: invalid cursor", field="cursor")
    return key


def as_uuid(value: str) -> str | None:
    """Canonical form of a UUID string, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError):
        return None
