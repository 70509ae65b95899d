"""Custom attributes: their definition and the validation of contact values by type."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kernel import errors
from kernel.timefmt import RANGE_MESSAGE, TimestampOutOfRange, check_range, iso
from services.audience.domain.slugs import MAX_SLUG_LENGTH, derive_slug, is_valid_slug

TYPES = ("date", "number", "boolean", "text")
MAX_NAME_LENGTH = 100
MAX_TEXT_LENGTH = 10_000
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Numbers are carried as doubles (JSON, protobuf Struct): integers beyond this lose precision.
MAX_EXACT_INTEGER = 2**53


@dataclass(frozen=True)
class AttributeDefinition:
    name: str
    slug: str
    type: str


def define(name: str, slug: str, type_: str) -> AttributeDefinition:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise errors.ValidationError(f"name: must be 1 to {MAX_NAME_LENGTH} characters", field="name")
    if type_ not in TYPES:
        raise errors.ValidationError(f"type: must be one of {', '.join(TYPES)}", field="type")
    slug = (slug or "").strip()
    if not slug:
        slug = derive_slug(name)
        if not slug:
            raise errors.ValidationError("slug: cannot derive a slug from this name; give one", field="slug")
    elif not is_valid_slug(slug):
        raise errors.ValidationError(
            f"slug: lowercase letters, digits and single underscores only (at most {MAX_SLUG_LENGTH})",
            field="slug")
    return AttributeDefinition(name, slug, type_)


def normalise_date(value: str) -> str:
    """ISO date or date-time → "YYYY-MM-DDTHH:MM:SS.mmmZ" (a bare date is midnight UTC)."""
    text = value.strip()
    if _DATE_ONLY.match(text):
        day = date.fromisoformat(text)
        return iso(check_range(datetime(day.year, day.month, day.day, tzinfo=UTC)))
    if "T" not in text and " " not in text:
        raise ValueError("not a date")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso(check_range(moment.astimezone(UTC)))


def validate_value(type_: str, value: Any, field: str) -> Any:
    """The stored form of `value` for an attribute of `type_`, or ValidationError on `field`."""
    if type_ == "boolean":
        if isinstance(value, bool):
            return value
        raise errors.ValidationError(f"{field}: expected a boolean", field=field)
    if type_ == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise errors.ValidationError(f"{field}: expected a number", field=field)
        if isinstance(value, float):
            if not math.isfinite(value):
                raise errors.ValidationError(f"{field}: expected a finite number", field=field)
            if value.is_integer() and abs(value) <= MAX_EXACT_INTEGER:
                return int(value)
            return value
        if abs(value) > MAX_EXACT_INTEGER:
            raise errors.ValidationError(f"{field}: integer out of range (max 2^53)", field=field)
        return value
    if type_ == "text":
        if not isinstance(value, str):
            raise errors.ValidationError(f"{field}: expected a string", field=field)
        if len(value) > MAX_TEXT_LENGTH:
            raise errors.ValidationError(f"{field}: at most {MAX_TEXT_LENGTH} characters", field=field)
        return value
    if type_ == "date":
        if not isinstance(value, str):
            raise errors.ValidationError(f"{field}: expected an ISO 8601 date or date-time string", field=field)
        try:
            return normalise_date(value)
        except TimestampOutOfRange:
            raise errors.ValidationError(f"{field}: {RANGE_MESSAGE}", field=field) from None
        except (ValueError, OverflowError):
            raise errors.ValidationError(f"{field}: expected an ISO 8601 date or date-time", field=field) from None
    raise errors.ValidationError(f"{field}: unsupported attribute type {type_!r}", field=field)
