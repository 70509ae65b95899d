"""Opaque keyset cursors: the sort key of the last row served, base64url JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kernel import errors

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise errors.ValidationError("limit: must be between 1 and 1000", field="limit")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(token: str, arity: int) -> list[Any] | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(isinstance(k, str) for k in key):
        raise errors.ValidationError("cursor: invalid cursor", field="cursor")
    return key
