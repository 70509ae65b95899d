"""Do-not-call numbers: what is listed, under which reason, and the tally of an import.

Two ways in, two rules, one stored form (E.164, "+" and digits):
- a number added one by one (AddDnc, and any lookup) is normalised like a contact's phone
  (`phonenumbers`: spaces and punctuation allowed, the number must be valid), so it matches
  the phone of a contact created from the same text;
- a line of an import only passes a syntax check, "+" then 8 to 15 digits, the first not 0
  (spaces, hyphens, dots and no-break spaces ignored): the full check costs ~30 µs a number,
  which would cap an import far below 100,000 lines a second. A syntactically plausible number
  that no carrier would route is listed all the same: listing it can never cause a call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kernel import errors
from services.audience.domain.phones import normalise_phone

MAX_PHONES = 10_000  # numbers per AddDnc or CheckDnc
MAX_CHUNK_LINES = 50_000  # lines per import chunk
MAX_REASON_LENGTH = 200
MAX_INVALID_REPORTED = 1_000  # invalid lines an import answers one by one (all are counted)
OPT_OUT_REASON = "opt-out"

_IGNORED = str.maketrans("", "", " -.\u00a0")
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_INVALID = "phone: invalid phone number (+ then 8 to 15 digits expected)"


def import_number(text: str) -> str | None:
    """The E.164 number written as `text` (the import's syntax check), None when it is none."""
    number = text.strip().translate(_IGNORED)
    return number if _E164.fullmatch(number) else None


def import_error(text: str) -> str:
    """Why `text` is not a number for the import (asked of invalid lines only)."""
    stripped = text.strip()
    if not stripped:
        return "phone: empty"
    if not stripped.startswith("+"):
        return "phone: invalid phone number (international format starting with + expected)"
    return _INVALID


def lookup_number(raw: str) -> str:
    """The stored form of a number asked for (get, remove): normalised like a contact's phone
    when it is a valid number, else by the import's syntax (an imported number phonenumbers
    does not know must still be found); neither is a ValidationError."""
    try:
        return normalise_phone(raw)[0]
    except errors.ValidationError:
        number = import_number(raw) if isinstance(raw, str) else None
        if number is None:
            raise
        return number


def validate_reason(reason: str | None) -> str | None:
    """At most MAX_REASON_LENGTH characters, trimmed; blank means none."""
    if reason is None:
        return None
    reason = reason.strip()
    if "\x00" in reason:  # text PostgreSQL cannot store
        raise errors.ValidationError("reason: must not contain the NUL character", field="reason")
    if len(reason) > MAX_REASON_LENGTH:
        raise errors.ValidationError(f"reason: at most {MAX_REASON_LENGTH} characters", field="reason")
    return reason or None


def check_count(phones: Sequence[str]) -> None:
    if len(phones) > MAX_PHONES:
        raise errors.ValidationError(f"phones: at most {MAX_PHONES} numbers per request (got {len(phones)})",
                                     field="phones")


@dataclass(frozen=True)
class SortedPhones:
    """The numbers of an add request: the valid ones as E.164 in request order (repeats kept:
    the second is counted as already listed), and (index, error) of the others."""

    numbers: list[str]
    invalid: list[tuple[int, str]]


def sort_phones(phones: Sequence[str]) -> SortedPhones:
    """AddDnc: 1 to MAX_PHONES numbers, each normalised like a contact's phone."""
    if not phones:
        raise errors.ValidationError("phones: at least one number is required", field="phones")
    check_count(phones)
    numbers: list[str] = []
    invalid: list[tuple[int, str]] = []
    for index, raw in enumerate(phones):
        try:
            numbers.append(normalise_phone(raw)[0])
        except errors.ValidationError as err:
            invalid.append((index, err.message))
    return SortedPhones(numbers, invalid)


@dataclass
class ImportTally:
    """What an import did so far. Every data line ends up in exactly one count: added, already
    listed (before the import, or earlier in the file) or invalid."""

    added: int = 0
    already_listed: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, error), the first ones
    invalid_count: int = 0

    def numbers(self, lines: Sequence[str], line_numbers: Sequence[int]) -> list[str]:
        """The numbers of one chunk's lines, the invalid lines counted instead."""
        if len(lines) != len(line_numbers):
            raise errors.ValidationError("lineNumbers: one line number per line expected", field="lineNumbers")
        if len(lines) > MAX_CHUNK_LINES:
            raise errors.ValidationError(f"lines: at most {MAX_CHUNK_LINES} lines per chunk", field="lines")
        # The hot loop of an import (a million lines): the check inlined, no call per line, and
        # a line already in E.164 (the usual case) taken as it is, before any clean-up.
        ignored, match = _IGNORED, _E164.fullmatch
        numbers: list[str] = []
        append = numbers.append
        for text in lines:
            if match(text):
                append(text)
                continue
            number = text.strip().translate(ignored)
            if match(number):
                append(number)
        if len(numbers) < len(lines):
            self._count_invalid((line, text) for text, line in zip(lines, line_numbers, strict=True)
                                if import_number(text) is None)
        return numbers

    def _count_invalid(self, lines: Iterable[tuple[int, str]]) -> None:
        for line, text in lines:
            self.invalid_count += 1
            if len(self.invalid) < MAX_INVALID_REPORTED:
                self.invalid.append((line, import_error(text)))

    def inserted(self, numbers: int, added: int) -> None:
        """`numbers` valid lines were written, of which `added` were new to the list."""
        self.added += added
        self.already_listed += numbers - added
