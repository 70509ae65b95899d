"""Contact imports from CSV: a job that applies the file's rows set-wise, batch by batch as they
arrive, in one transaction.

The header is checked (and the audience found) before anything is written. The job row is then
committed as `running`, and one transaction, which holds the job's row, takes the valid rows in
batches of APPLY_ROWS: each batch is COPYed into a temporary table and applied set-wise (in-file
repeats, then the existing phones, then updates with their contact.updated events into the
outbox, inserts with their ids recorded for their contact.created events, then the audience's
members) while the next batch is checked. Once the file has ended,
the same transaction records the job's counters and commits. Contacts, events and counters are
therefore committed together or not at all; an atomic import with any error is rolled back whole
and only its job is recorded, failed, with its errors.

The commit runs after the call has answered (the job, still running): a client that goes away
then changes nothing. A client gone before the file's end, or a process that dies mid-import,
rolls the transaction back; a job left running with no transaction holding it is marked failed by
the sweep of any replica.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import uuid_utils
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import errors, ids, logs, loops
from kernel.clock import get_clock
from services.audience.adapters import events
from services.audience.adapters import imports as table
from services.audience.adapters import repository as repo
from services.audience.adapters.rows import ContactRow, ImportJobRow
from services.audience.domain.contacts import merge_attributes
from services.audience.domain.csv_rows import Layout, read_header, read_row
from services.audience.domain.errors import AudienceNotFoundError, ImportNotFoundError
from services.audience.domain.import_errors import MAX_KEPT, ErrorTally, ImportErrorRow

log = logs.get("audience.imports")

ON_DUPLICATE = ("skip", "update", "fail")
# Rows per batch applied: the statements' cost per row falls until about this size (as the
# do-not-call import's writes), and a batch's updated contacts are held here for their events.
APPLY_ROWS = 20_000
# The checks hand the event loop over this often (rows: about a millisecond of checking).
YIELD_ROWS = 64
SWEEP_EVERY_SECONDS = 60.0  # IMPORT_SWEEP_SECONDS
ABANDONED = "the import stopped before it finished (its process ended); nothing of it was written"
CUT_SHORT = "the upload ended before the file did; nothing of it was written"


def time_ordered_id() -> str:
    """A version 7 UUID as text (RFC 9562: milliseconds since the epoch first, then random bits).
    The import's contacts take these: their primary keys and the indexes that lead
    with the id are then filled at their right edge, not at a random page each — the cost of an
    index entry stays flat however many contacts the organization already has."""
    return str(uuid_utils.uuid7())


@dataclass(frozen=True)
class ImportOptions:
    organization_id: str
    audience_id: str
    on_duplicate: str
    atomic: bool
    header: Sequence[str]


@dataclass(frozen=True)
class ImportRows:
    """Rows of the file: row i has cell_counts[i] cells, in order in `cells`, and starts on line
    line_numbers[i]."""

    cells: Sequence[str]
    cell_counts: Sequence[int]
    line_numbers: Sequence[int]
    last: bool = False


@dataclass
class _Applied:
    """What the batches applied so far did."""

    rows_read: int = 0
    valid: int = 0  # rows that passed the row rule
    created: int = 0
    updated: int = 0
    dropped: int = 0  # valid rows refused in the database (repeated in the file, or onDuplicate=fail)
    joined: int = 0  # members added to the audience


class ContactImports:
    def __init__(self, engine: AsyncEngine, sweep_seconds: float = SWEEP_EVERY_SECONDS):
        self._engine = engine
        self._sweep_seconds = sweep_seconds
        self._applying: set[asyncio.Task[None]] = set()

    async def get(self, organization_id: str, import_id: str) -> ImportJobRow:
        org = ids.parse(organization_id, field="organizationId")
        job_id = ids.parse(import_id, ImportNotFoundError)
        async with self._engine.connect() as conn:
            job = await table.get_job(conn, org, job_id)
        if job is None:
            raise ImportNotFoundError()
        return job

    async def start(self, options: ImportOptions, rows: AsyncIterator[ImportRows]) -> ImportJobRow:
        """Apply the file batch by batch; answers its job (running) once the stream has ended, the
        counters and the commit going on."""
        org = ids.parse(options.organization_id, field="organizationId")
        on_duplicate = options.on_duplicate or "skip"
        if on_duplicate not in ON_DUPLICATE:
            raise errors.ValidationError(f"onDuplicate: one of {', '.join(ON_DUPLICATE)}", field="onDuplicate")
        audience = ids.parse(options.audience_id, AudienceNotFoundError) if options.audience_id else None
        async with self._engine.connect() as conn:
            if audience is not None and await repo.get_audience(conn, org, audience) is None:
                raise AudienceNotFoundError()
            layout = read_header(options.header, await repo.attribute_types(conn, org))
        job = ImportJobRow(uuid.uuid4(), org, "running", audience, on_duplicate, options.atomic, 0, 0, 0, 0, 0, [],
                           get_clock().now(), None)
        async with self._engine.begin() as conn:
            await table.insert_job(conn, job)
        conn = await self._engine.connect()
        tally = ErrorTally()
        try:
            await conn.begin()
            await table.hold_job(conn, job.id)
            if audience is not None and not await table.hold_audience(conn, org, audience):
                raise AudienceNotFoundError()
            await table.create_staging(conn)
            applied = await self._apply_stream(conn, job, layout, rows, tally)
        except BaseException as exc:
            await conn.close()  # rolled back: nothing applied stays
            await self._fail(job, exc.message if isinstance(exc, errors.DomainError) else CUT_SHORT)
            raise
        task = asyncio.create_task(self._finish(conn, job, applied, tally))
        self._applying.add(task)
        task.add_done_callback(self._applying.discard)
        return replace(job, rows_read=applied.rows_read)

    async def _apply_stream(self, conn: AsyncConnection, job: ImportJobRow, layout: Layout,
                            chunks: AsyncIterator[ImportRows], tally: ErrorTally) -> _Applied:
        """Rows are checked while the previous batch is applied (one batch in flight: the checks
        and the database overlap, on two cores)."""
        applied = _Applied()
        ended = False
        batch: list[tuple[object, ...]] = []
        applying: asyncio.Task[None] | None = None
        try:
            async for chunk in chunks:
                ended = ended or chunk.last
                start = 0
                for i, (count, line) in enumerate(zip(chunk.cell_counts, chunk.line_numbers, strict=True)):
                    cells = chunk.cells[start:start + count]
                    start += count
                    if not i % YIELD_ROWS and applying is not None:
                        # The batch in flight sends its next statement as soon as the last one
                        # has answered, rather than after this whole chunk has been checked.
                        await asyncio.sleep(0)
                    try:
                        contact = read_row(cells, layout)
                    except errors.ValidationError as err:
                        tally.add(line, err.field or "", err.message)
                        continue
                    batch.append((line, time_ordered_id(), contact.phone, contact.name, contact.country,
                                  json.dumps(contact.attributes), contact.timezone))
                applied.rows_read += len(chunk.line_numbers)
                if len(batch) >= APPLY_ROWS:
                    if applying is not None:
                        await applying
                    applying, batch = asyncio.create_task(self._apply_batch(conn, job, batch, applied, tally)), []
            if applying is not None:
                await applying
            applying = None
            if batch:
                await self._apply_batch(conn, job, batch, applied, tally)
        finally:
            if applying is not None:  # the stream failed: the transaction is rolled back anyway
                applying.cancel()
        if not ended:
            raise errors.ValidationError(CUT_SHORT, field="body")
        return applied

    async def _apply_batch(self, conn: AsyncConnection, job: ImportJobRow, batch: list[tuple[object, ...]],
                           applied: _Applied, tally: ErrorTally) -> None:
        org = job.organization_id
        now = job.created_at
        applied.valid += len(batch)
        await table.copy_rows(conn, batch)
        repeated, count = await table.drop_repeated_phones(conn, MAX_KEPT)
        tally.merge([ImportErrorRow(line, "phone", f"phone: the same phone number as line {first}")
                     for line, first in repeated], count)
        applied.dropped += count
        if job.on_duplicate == "fail":
            taken, count = await table.drop_existing_phones(conn, org, MAX_KEPT)
            tally.merge([ImportErrorRow(line, "phone", "phone: a contact with this phone number already exists")
                         for line, _ in taken], count)
            applied.dropped += count
        if job.on_duplicate == "update":
            applied.updated += await self._update(conn, job, now)
        applied.created += await table.insert_new(conn, org, now)
        if job.audience_id is not None:
            applied.joined += await table.add_to_audience(conn, org, job.audience_id, now)
        await table.clear_batch(conn)

    async def _update(self, conn: AsyncConnection, job: ImportJobRow, now: datetime) -> int:
        """The batch's existing contacts overwritten, each with its contact.updated event (only the
        attributes that changed, as PATCH tells them)."""
        organization_id = str(job.organization_id)
        rows = await table.update_existing(conn, job.organization_id, now)
        staged = []
        for row in rows:
            _, changed = merge_attributes(row.before, row.given)
            contact = ContactRow(row.id, job.organization_id, row.phone, row.name, row.country, {}, now, now,
                                 row.timezone)
            staged.append(events.contact_changed("updated", organization_id, contact, changed, now))
        await events.stage(conn, staged)
        return len(rows)

    async def _finish(self, conn: AsyncConnection, job: ImportJobRow, applied: _Applied, tally: ErrorTally) -> None:
        """Counters and commit; an atomic import with errors is rolled back whole and recorded failed."""
        try:
            done = replace(job, rows_read=applied.rows_read, error_count=tally.count, errors=tally.first,
                           finished_at=get_clock().now())
            if job.atomic and tally.count:
                await conn.rollback()
                async with self._engine.begin() as own:
                    await table.finish_job(own, replace(done, status="failed"))
            else:
                if job.audience_id is not None and applied.joined:
                    await table.count_members(conn, job.audience_id, applied.joined, done.finished_at or job.created_at)
                done = replace(done, status="completed", created=applied.created, updated=applied.updated,
                               skipped=applied.valid - applied.dropped - applied.created - applied.updated)
                await table.finish_job(conn, done)
                await conn.commit()
            log.info("contact import finished", extra={"import_id": str(job.id), "status": done.status,
                                                        "rows": applied.rows_read, "contacts_created": done.created,
                                                        "contacts_updated": done.updated, "errors": done.error_count})
        except Exception as exc:
            log.exception("contact import failed", extra={"import_id": str(job.id)})
            await conn.rollback()
            await self._fail(job, f"the import failed ({type(exc).__name__}); nothing of it was written")
        finally:
            await conn.close()

    async def _fail(self, job: ImportJobRow, message: str) -> None:
        try:
            async with self._engine.begin() as conn:
                await table.finish_job(conn, replace(job, status="failed", error_count=1, finished_at=get_clock().now(),
                                                     errors=[ImportErrorRow(0, "import", message)]))
        except Exception:  # the sweep marks it later
            log.exception("could not mark a contact import failed", extra={"import_id": str(job.id)})

    async def sweep_once(self) -> int:
        async with self._engine.begin() as conn:
            return await table.fail_abandoned(conn, get_clock().now(), ABANDONED)

    async def sweep_forever(self) -> None:
        await loops.every(self._sweep_seconds, self.sweep_once, log=log, what="abandoned import sweep")
