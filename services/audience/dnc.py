"""Do-not-call lists: numbers an organization never calls, whatever the program.

Add, remove, read and page the list; check up to 10,000 numbers in one statement (the execution
asks at claim time, so a number listed during a campaign is not called again); import a file of
any size as a stream of chunks; list the numbers whose callers opted out during a call.

An import is not one transaction: its numbers are written as they arrive, IMPORT_WRITE_ROWS at a
time, each write committed on its own, so memory stays flat in the file's size and a long import
holds no lock. An import cut short keeps what it committed;
running it again is harmless (what is listed already is counted as such, never added twice).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import ids, logs, paging
from kernel.clock import get_clock
from services.audience.adapters import dnc as dnc_table
from services.audience.adapters.rows import DncEntryRow
from services.audience.domain.dnc import (
    OPT_OUT_REASON,
    ImportTally,
    check_count,
    import_number,
    lookup_number,
    sort_phones,
    validate_reason,
)
from services.audience.domain.errors import DncEntryNotFoundError

log = logs.get("audience.dnc")

# Numbers per write of an import: the statement's cost per row falls until about this size
# (5,000 rows: ~120,000 a second; 20,000: ~190,000, measured on the bench's PostgreSQL).
IMPORT_WRITE_ROWS = 20_000


@dataclass(frozen=True)
class AddOutcome:
    added: int
    already_listed: int
    invalid: list[tuple[int, str]]  # (index in the request, error)


@dataclass(frozen=True)
class ImportChunk:
    """One piece of an import: `lines[i]` is the number written on line `line_numbers[i]`;
    the organization and the reason count on the first chunk only."""

    organization_id: str
    reason: str | None
    lines: Sequence[str]
    line_numbers: Sequence[int]


def _org(organization_id: str) -> uuid.UUID:
    return ids.parse(organization_id, field="organizationId")


class DoNotCall:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def add(self, organization_id: str, phones: Sequence[str], reason: str | None) -> AddOutcome:
        org = _org(organization_id)
        reason = validate_reason(reason)
        phones_in = sort_phones(phones)
        added = 0
        if phones_in.numbers:
            async with self._engine.begin() as conn:
                added = await dnc_table.add(conn, org, phones_in.numbers, reason, get_clock().now())
        return AddOutcome(added, len(phones_in.numbers) - added, phones_in.invalid)

    async def remove(self, organization_id: str, phone: str) -> None:
        org = _org(organization_id)
        number = lookup_number(phone)
        async with self._engine.begin() as conn:
            if not await dnc_table.remove(conn, org, number):
                raise DncEntryNotFoundError()

    async def get(self, organization_id: str, phone: str) -> DncEntryRow:
        org = _org(organization_id)
        number = lookup_number(phone)
        async with self._engine.connect() as conn:
            entry = await dnc_table.get(conn, org, number)
        if entry is None:
            raise DncEntryNotFoundError()
        return entry

    async def page(self, organization_id: str, limit: int = 0, cursor: str = "") -> tuple[list[DncEntryRow], str]:
        """One page of the list, by phone number, and the next page's cursor ("" on the last)."""
        org = _org(organization_id)
        wanted = paging.request(limit, cursor, paging.text)
        async with self._engine.connect() as conn:
            rows = await dnc_table.page(conn, org, wanted)
        return paging.page(rows, wanted, key=lambda row: (row.phone,))

    async def check(self, organization_id: str, phones: Sequence[str]) -> list[str]:
        """Those of `phones` (E.164, compared exactly) that are listed, in request order."""
        org = _org(organization_id)
        check_count(phones)
        if not phones:
            return []
        async with self._engine.connect() as conn:
            listed = await dnc_table.listed(conn, org, list(phones))
        return [p for p in phones if p in listed]

    async def import_numbers(self, chunks: AsyncIterator[ImportChunk]) -> ImportTally:
        """Numbers are gathered into writes of IMPORT_WRITE_ROWS; the next chunks are received
        and checked while a write runs (one write in flight: the network, the checks and the
        database overlap, and the counts stay exact)."""
        tally = ImportTally()
        org: uuid.UUID | None = None
        reason: str | None = None
        gathered: list[str] = []
        writing: asyncio.Task[None] | None = None
        try:
            async for chunk in chunks:
                if org is None:
                    org, reason = _org(chunk.organization_id), validate_reason(chunk.reason)
                gathered += tally.numbers(chunk.lines, chunk.line_numbers)
                if len(gathered) >= IMPORT_WRITE_ROWS:
                    if writing is not None:
                        await writing
                    writing, gathered = asyncio.create_task(self._write(tally, org, gathered, reason)), []
            if writing is not None:
                await writing
            writing = None
            if gathered and org is not None:
                await self._write(tally, org, gathered, reason)
        finally:
            if writing is not None:  # the stream failed: what was committed stays, the rest is dropped
                writing.cancel()
        return tally

    async def _write(self, tally: ImportTally, org: uuid.UUID, numbers: list[str], reason: str | None) -> None:
        async with self._engine.begin() as conn:
            added = await dnc_table.add(conn, org, numbers, reason, get_clock().now())
        tally.inserted(len(numbers), added)

    async def opt_out(self, requests: Sequence[tuple[str, str]]) -> int:
        """List each (organization id, phone) with the reason "opt-out"; answers how many were
        new. A pair that cannot be read (not a UUID, not a number) is logged and left out: it
        would never become readable by being delivered again."""
        orgs: list[uuid.UUID] = []
        numbers: list[str] = []
        for organization_id, phone in requests:
            org, number = ids.canonical(organization_id), import_number(phone or "")
            if org is None or number is None:
                log.error("opt-out left out: unreadable organization or phone",
                          extra={"organization_id": organization_id, "phone": phone})
                continue
            orgs.append(uuid.UUID(org))
            numbers.append(number)
        if not numbers:
            return 0
        async with self._engine.begin() as conn:
            return await dnc_table.add_pairs(conn, orgs, numbers, OPT_OUT_REASON, get_clock().now())
