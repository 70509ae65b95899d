"""ISO 8601 in and out: the API speaks UTC with milliseconds and a trailing Z."""

from __future__ import annotations

from datetime import UTC, datetime


class InvalidTimestamp(ValueError):
    pass


class TimestampOutOfRange(InvalidTimestamp):
    pass


# Instants the API accepts: wide enough for any campaign or birth date, narrow enough that
# offsets, time zones and retries never leave the calendar.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RANGE_MESSAGE = "must be between 1900-01-01 and 2999-12-31"


def check_range(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if not EARLIEST <= dt < LATEST:
        raise TimestampOutOfRange(RANGE_MESSAGE)
    return dt


def iso(dt: datetime | None) -> str:
    """2025-12-20T09:00:00.000Z; empty string for None (proto strings have no null)."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 instant; a value without offset is read as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidTimestamp("expected an ISO 8601 date-time")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidTimestamp(f"not an ISO 8601 date-time: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        dt = dt.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted by its offset
        raise TimestampOutOfRange(RANGE_MESSAGE) from None
    return check_range(dt)


def parse_optional(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None
