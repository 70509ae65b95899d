"""Opaque keyset cursor over (created_at, id), newest first."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from services.program.domain.validation import fail

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode(created_at: datetime, program_id: str) -> str:
    # Full microsecond precision: the cursor must sort exactly like the column.
    raw = f"{created_at.isoformat()}|{program_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created, program_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, str(uuid.UUID(program_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise fail("cursor", "invalid cursor") from None


def check_limit(limit: int) -> int:
    if limit == 0:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise fail("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit
