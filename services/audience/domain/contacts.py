"""Contact validation and the attribute merge of PATCH: pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kernel import errors
from services.audience.domain.attributes import validate_value
from services.audience.domain.phones import normalise_phone
from services.audience.domain.timezones import validate_timezone

MAX_NAME_LENGTH = 200
MAX_BULK = 10_000


@dataclass(frozen=True)
class ValidContact:
    phone: str
    name: str | None
    country: str
    attributes: dict[str, Any]
    timezone: str | None = None


class ContactFields(NamedTuple):
    """A contact as a request gives it, before validation."""

    phone: str
    name: str | None
    attributes: dict[str, Any]
    timezone: str | None = None


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def validate_name(name: str | None, field: str) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise errors.ValidationError(f"{field}: expected a string", field=field)
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise errors.ValidationError(f"{field}: at most {MAX_NAME_LENGTH} characters", field=field)
    return name or None


def validate_attributes(values: dict[str, Any], types: dict[str, str], prefix: str = "",
                        allow_null: bool = False) -> dict[str, Any]:
    """Each value checked against its attribute's type; None kept only when `allow_null`
    (PATCH: removal) and otherwise dropped (unset)."""
    out: dict[str, Any] = {}
    for slug, value in values.items():
        field = f"{_prefixed(prefix, 'attributes')}.{slug}"
        type_ = types.get(slug)
        if type_ is None:
            raise errors.ValidationError(f"{field}: unknown custom attribute", field=field)
        if value is None:
            if allow_null:
                out[slug] = None
            continue
        out[slug] = validate_value(type_, value, field)
    return out


def validate_contact(phone: str, name: str | None, attributes: dict[str, Any], types: dict[str, str],
                     prefix: str = "", timezone: str | None = None) -> ValidContact:
    e164, country = normalise_phone(phone, _prefixed(prefix, "phone"))
    return ValidContact(
        phone=e164,
        name=validate_name(name, _prefixed(prefix, "name")),
        country=country,
        attributes=validate_attributes(attributes, types, prefix),
        timezone=validate_timezone(timezone, _prefixed(prefix, "timezone")),
    )


def merge_attributes(current: dict[str, Any], patch: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(merged attributes, the changes: slug → new value, None when removed).

    A None in `patch` removes the attribute; equal values are not changes."""
    merged = dict(current)
    changed: dict[str, Any] = {}
    for slug, value in patch.items():
        if value is None:
            if slug in merged:
                del merged[slug]
                changed[slug] = None
        elif merged.get(slug, object()) != value or type(merged.get(slug)) is not type(value):
            merged[slug] = value
            changed[slug] = value
    return merged, changed


def validate_bulk(items: Sequence[ContactFields | tuple[str, str | None, dict[str, Any]]],
                  types: dict[str, str]) -> list[ValidContact]:
    """All-or-nothing validation of an import; errors name the index, duplicates included. An
    item may be a plain (phone, name, attributes): a contact without time zone."""
    if len(items) > MAX_BULK:
        raise errors.ValidationError(f"contacts: at most {MAX_BULK} contacts per import (got {len(items)})",
                                     field="contacts")
    if not items:
        raise errors.ValidationError("contacts: at least one contact is required", field="contacts")
    valid: list[ValidContact] = []
    first_index: dict[str, int] = {}
    for i, item in enumerate(items):
        given = ContactFields(*item)
        contact = validate_contact(given.phone, given.name, given.attributes, types, prefix=f"contacts[{i}]",
                                   timezone=given.timezone)
        if contact.phone in first_index:
            field = f"contacts[{i}].phone"
            raise errors.ValidationError(f"{field}: duplicate of contacts[{first_index[contact.phone]}].phone",
                                         field=field)
        first_index[contact.phone] = i
        valid.append(contact)
    return valid
