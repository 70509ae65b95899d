"""The errors of an import as its job shows them: every error counted, the first MAX_KEPT by
line kept, so that a file of a million bad rows costs no more memory than one of a thousand."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

MAX_KEPT = 1_000


@dataclass(frozen=True)
class ImportErrorRow:
    """A line of an imported file that was not applied, and why."""

    line: int
    field: str
    message: str


class ErrorTally:
    def __init__(self) -> None:
        self.count = 0
        self._kept: list[ImportErrorRow] = []  # by line; rows arrive in file order

    def add(self, line: int, field: str, message: str) -> None:
        self.count += 1
        if len(self._kept) < MAX_KEPT:
            self._kept.append(ImportErrorRow(line, field, message))

    def merge(self, found: list[ImportErrorRow], count: int) -> None:
        """Errors found later (by the database) at lines anywhere in the file: `found` is their
        first MAX_KEPT by line, `count` all of them."""
        self.count += count
        self._kept = list(heapq.merge(self._kept, sorted(found, key=lambda e: e.line),
                                      key=lambda e: e.line))[:MAX_KEPT]

    @property
    def first(self) -> list[ImportErrorRow]:
        return list(self._kept)
