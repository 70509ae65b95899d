"""How a campaign rule refuses a value: a ValidationError whose message starts with the field in
API terms (`retryStrategy.delayMinutes: must be between 1 and 10080`) and names that field."""

from __future__ import annotations

from datetime import datetime

from kernel.errors import ValidationError
from kernel.timefmt import RANGE_MESSAGE, InvalidTimestamp, TimestampOutOfRange, parse_iso


def fail(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", field=field)


def between(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise fail(field, f"must be between {low} and {high}")


def one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise fail(field, f"must be one of {', '.join(allowed)}")
    return value


def instant(field: str, value: str) -> datetime:
    """An ISO 8601 instant of the request, at full precision."""
    try:
        return parse_iso(value)
    except TimestampOutOfRange:
        raise fail(field, RANGE_MESSAGE) from None
    except InvalidTimestamp:
        raise fail(field, "must be an ISO 8601 date-time") from None


def millis(value: datetime) -> datetime:
    """`value` as stored and shown: the API keeps instants to the millisecond."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)
