"""Page sizes and opaque keyset cursors, one rule for every list of every service.

A cursor is the sort key of the last row served, as base64url JSON of strings. Times go in
at full precision: the cursor must sort exactly like the column it continues.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from kernel.errors import ValidationError
from kernel.timefmt import InvalidTimestamp, parse_iso

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def page_size(limit: int) -> int:
    """0 (the proto default) means the default page; anything else must be 1–1000."""
    if limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def encode(*key: str | datetime | uuid.UUID) -> str:
    parts = [k.isoformat() if isinstance(k, datetime) else str(k) for k in key]
    return base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[str] | None:
    """The key of a cursor, None for no cursor (the first page)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(isinstance(k, str) for k in key):
        raise _invalid()
    return key


def instant(part: str) -> datetime:
    """A time part of a cursor's key."""
    try:
        return parse_iso(part)
    except InvalidTimestamp:
        raise _invalid() from None


def identifier(part: str) -> str:
    """A UUID part of a cursor's key, canonical."""
    try:
        return str(uuid.UUID(part))
    except ValueError:
        raise _invalid() from None


def _invalid() -> ValidationError:
    return ValidationError("cursor: invalid cursor", field="cursor")


def text(part: str) -> str:
    """A text part of a cursor's key (a phone number, a slug), as it was written."""
    return part


@dataclass(frozen=True)
class PageRequest:
    """One page to read: at most `limit` rows after the key `after` (None: from the start).
    A repository reads `limit + 1` rows so that `page` can tell whether another page follows."""

    limit: int
    after: tuple[Any, ...] | None

    @property
    def fetch(self) -> int:
        return self.limit + 1


def request(limit: int, cursor: str, *parts: Callable[[str], Any]) -> PageRequest:
    """Check the page size and read the cursor: one parser per part of the sort key
    (`instant`, `identifier`, `text`), in sort order."""
    key = decode(cursor, len(parts))
    after = tuple(parse(part) for parse, part in zip(parts, key, strict=True)) if key is not None else None
    return PageRequest(page_size(limit), after)


def page(rows: Sequence[T], wanted: PageRequest, key: Callable[[T], tuple[str | datetime | uuid.UUID, ...]]
         ) -> tuple[list[T], str]:
    """The rows of the page (`rows` as read, up to `wanted.fetch`) and the next page's cursor,
    "" on the last page."""
    served = list(rows[: wanted.limit])
    if len(rows) > wanted.limit and served:
        return served, encode(*key(served[-1]))
    return served, ""
