"""A contact written as a CSV row: the header's columns, and each row read as POST /api/contacts
reads a contact.

The header names `phone` (required), `name`, `timezone` and custom attribute slugs, each at most
once (names compared without surrounding blanks and case); any other column refuses the file.
A row's cells are text: an empty cell (blanks only) is a value not given; an attribute's cell is
read as its type (number: an integer or decimal; boolean: true/false, yes/no or 1/0, any case;
date and text: the text) and then checked by the same rule as a JSON value, so a row is valid
exactly when the same contact sent as JSON would be. A row with more cells than the header is
refused; missing trailing cells are empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kernel import errors
from services.audience.domain.contacts import ValidContact, validate_contact

PHONE, NAME, TIMEZONE = "phone", "name", "timezone"
_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Layout:
    """Where each field sits in a row: column indexes, and (index, slug, type) per attribute."""

    width: int
    phone: int
    name: int | None
    timezone: int | None
    attributes: tuple[tuple[int, str, str], ...]
    types: dict[str, str]  # slug → type of the attribute columns


def read_header(names: Sequence[str], types: dict[str, str]) -> Layout:
    """The layout of a file whose first record is `names`; ValidationError naming the column
    otherwise (`types`: the organization's attribute slugs and types)."""
    seen: dict[str, int] = {}
    for index, raw in enumerate(names):
        name = raw.strip().lower()
        if name in seen:
            raise errors.ValidationError(f"header: column {name!r} appears twice", field="header")
        if name not in (PHONE, NAME, TIMEZONE) and name not in types:
            raise errors.ValidationError(
                f"header: unknown column {raw!r} (phone, name, timezone or a custom attribute slug expected)",
                field="header")
        seen[name] = index
    if PHONE not in seen:
        raise errors.ValidationError("header: a 'phone' column is required", field="header")
    attributes = tuple((i, slug, types[slug]) for slug, i in seen.items() if slug not in (PHONE, NAME, TIMEZONE))
    return Layout(len(names), seen[PHONE], seen.get(NAME), seen.get(TIMEZONE), attributes,
                  {slug: type_ for _, slug, type_ in attributes})


def cell_value(type_: str, cell: str) -> Any:
    """The JSON value a cell stands for. A cell that reads as no value of its type is handed on
    as text, which the type's rule then refuses with its own words, in the JSON rule's order."""
    if type_ == "number":
        text = cell.strip()
        if _INTEGER.fullmatch(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            return cell
    if type_ == "boolean":
        word = cell.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else cell
    return cell


def _given(cells: Sequence[str], index: int | None, field: str) -> str | None:
    if index is None or index >= len(cells):
        return None
    cell = cells[index]
    if "\x00" in cell:  # what a JSON body is refused for too: no column stores it
        raise errors.ValidationError(f"{field}: must not contain the NUL character", field=field)
    return cell if cell.strip() else None


def read_row(cells: Sequence[str], layout: Layout) -> ValidContact:
    """The contact of a data row, or the ValidationError of its first invalid field."""
    if len(cells) > layout.width:
        raise errors.ValidationError(f"row: {len(cells)} cells, the header has {layout.width}", field="row")
    phone = _given(cells, layout.phone, PHONE)
    name = _given(cells, layout.name, NAME)
    timezone = _given(cells, layout.timezone, TIMEZONE)
    attributes: dict[str, Any] = {}
    for index, slug, type_ in layout.attributes:
        cell = _given(cells, index, f"attributes.{slug}")
        if cell is not None:
            attributes[slug] = cell_value(type_, cell)
    return validate_contact(phone or "", name, attributes, layout.types, timezone=timezone)
