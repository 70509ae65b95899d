"""SQL of contact imports: the job row (`contact_imports`), and the set-wise statements that apply
a batch of rows staged in temporary tables of the import's transaction (dropped with it):
`import_rows` holds the batch being applied (emptied after each), `import_phones` the first line
of every phone of the file applied so far (how a phone repeated in the file is recognised).
Functions take a connection; the caller owns the transaction.

Staged rows are valid contacts only (the row rule ran before), each with its contact id, so that
creating them is one INSERT … SELECT … ON CONFLICT whose inserted ids are recorded, in the same
statement, in `import_events` (the parts the relay publishes as contact.created events)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audience.adapters.rows import ImportErrorRow, ImportJobRow

STAGED_COLUMNS = ("line", "contact_id", "phone", "name", "country", "attributes", "timezone")
# Contact ids per import_events row: a part is published as one round of events.
EVENT_PART = 1000
# A job still 'running' whose row no transaction holds, created longer ago than this, was left by
# a process that died: its transaction was rolled back, nothing of it was written.
ABANDONED_AFTER_SECONDS = 60

_JOB_COLUMNS = ("id, organization_id, status, audience_id, on_duplicate, atomic, rows_read, created, updated, "
                "skipped, error_count, errors, created_at, finished_at")


def _job(row: Row[Any]) -> ImportJobRow:
    return ImportJobRow(row.id, row.organization_id, row.status, row.audience_id, row.on_duplicate, row.atomic,
                        row.rows_read, row.created, row.updated, row.skipped, row.error_count,
                        [ImportErrorRow(e["line"], e["field"], e["message"]) for e in row.errors],
                        row.created_at, row.finished_at)


async def insert_job(conn: AsyncConnection, job: ImportJobRow) -> None:
    await conn.execute(text(
        "INSERT INTO contact_imports (id, organization_id, status, audience_id, on_duplicate, atomic, created_at) "
        "VALUES (:id, :org, 'running', :audience, :on_duplicate, :atomic, :created_at)"),
        {"id": job.id, "org": job.organization_id, "audience": job.audience_id, "on_duplicate": job.on_duplicate,
         "atomic": job.atomic, "created_at": job.created_at})


async def get_job(conn: AsyncConnection, org: uuid.UUID, job_id: uuid.UUID) -> ImportJobRow | None:
    row = (await conn.execute(text(
        f"SELECT {_JOB_COLUMNS} FROM contact_imports WHERE organization_id = :org AND id = :id"),
        {"org": org, "id": job_id})).first()
    return _job(row) if row else None


async def hold_job(conn: AsyncConnection, job_id: uuid.UUID) -> None:
    """Lock the job's row for the transaction: a running job whose row is free has no process."""
    await conn.execute(text("SELECT 1 FROM contact_imports WHERE id = :id FOR UPDATE"), {"id": job_id})


async def finish_job(conn: AsyncConnection, job: ImportJobRow) -> None:
    await conn.execute(text(
        "UPDATE contact_imports SET status = :status, rows_read = :rows_read, created = :created, "
        "updated = :updated, skipped = :skipped, error_count = :error_count, errors = CAST(:errors AS jsonb), "
        "finished_at = :finished_at WHERE id = :id"),
        {"id": job.id, "status": job.status, "rows_read": job.rows_read, "created": job.created,
         "updated": job.updated, "skipped": job.skipped, "error_count": job.error_count,
         "errors": json.dumps([{"line": e.line, "field": e.field, "message": e.message} for e in job.errors]),
         "finished_at": job.finished_at})


async def fail_abandoned(conn: AsyncConnection, now: datetime, message: str) -> int:
    """Mark failed the running jobs that no live transaction holds (their process died)."""
    result = await conn.execute(text(
        "UPDATE contact_imports SET status = 'failed', finished_at = :now, error_count = error_count + 1, "
        "errors = errors || jsonb_build_array(jsonb_build_object('line', 0, 'field', 'import', 'message', CAST(:message AS text))) "
        "WHERE id IN (SELECT id FROM contact_imports WHERE status = 'running' "
        "             AND created_at < :now - make_interval(secs => :age) FOR UPDATE SKIP LOCKED)"),
        {"now": now, "age": ABANDONED_AFTER_SECONDS, "message": message})
    return result.rowcount


# --- staging, a batch at a time ---

async def create_staging(conn: AsyncConnection) -> None:
    await conn.execute(text(
        "CREATE TEMP TABLE import_rows (line integer NOT NULL, contact_id uuid NOT NULL, "
        "phone text NOT NULL, name text, country text NOT NULL, attributes jsonb NOT NULL, timezone text) "
        "ON COMMIT DROP"))
    await conn.execute(text(
        "CREATE TEMP TABLE import_phones (phone text PRIMARY KEY, line integer NOT NULL) ON COMMIT DROP"))


async def copy_rows(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY a batch (rows in STAGED_COLUMNS order, attributes as JSON text) into `import_rows`."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    async with driver.cursor() as cursor, cursor.copy(
            f"COPY import_rows ({', '.join(STAGED_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            await copy.write_row(row)


async def clear_batch(conn: AsyncConnection) -> None:
    await conn.execute(text("TRUNCATE import_rows"))


async def _deleted_errors(conn: AsyncConnection, statement: str, params: dict[str, Any],
                          limit: int) -> tuple[list[tuple[int, str]], int]:
    rows = (await conn.execute(text(
        f"WITH gone AS ({statement}) "
        "SELECT line, detail, count(*) OVER () AS total FROM gone ORDER BY line LIMIT :limit"),
        {**params, "limit": limit})).all()
    return [(r.line, r.detail) for r in rows], (rows[0].total if rows else 0)


async def drop_repeated_phones(conn: AsyncConnection, limit: int) -> tuple[list[tuple[int, str]], int]:
    """Unstage every row of the batch whose phone an earlier line of the file has (the first line
    wins); answers the first `limit` (line, first line) by line, and how many.

    One statement: the batch's phones not seen before go into `import_phones`, and a staged row
    stays only when its own line is the one that went in. Nothing scans the phones of the batches
    before (they grow with the file): the unique index answers the conflicts, and only a row
    that goes looks its first line up."""
    rows = (await conn.execute(text(
        "WITH fresh AS ("
        "  INSERT INTO import_phones (phone, line) "
        "  SELECT DISTINCT ON (phone) phone, line FROM import_rows ORDER BY phone, line "
        "  ON CONFLICT DO NOTHING RETURNING phone, line), "
        "gone AS ("
        "  DELETE FROM import_rows r WHERE NOT EXISTS (SELECT 1 FROM fresh f WHERE f.line = r.line) "
        "  RETURNING r.line, r.phone) "
        # import_phones is read as it was before this statement: a phone first seen in this
        # batch has its first line in `fresh`, one seen in an earlier batch in the table.
        "SELECT g.line, coalesce(f.line, p.line)::text AS detail, count(*) OVER () AS total "
        "FROM gone g LEFT JOIN fresh f ON f.phone = g.phone LEFT JOIN import_phones p ON p.phone = g.phone "
        "ORDER BY g.line LIMIT :limit"), {"limit": limit})).all()
    return [(r.line, r.detail) for r in rows], (rows[0].total if rows else 0)


async def drop_existing_phones(conn: AsyncConnection, org: uuid.UUID, limit: int) -> tuple[list[tuple[int, str]], int]:
    """Unstage every row whose phone is already a contact of the organization (onDuplicate=fail)."""
    return await _deleted_errors(conn, (
        "DELETE FROM import_rows r USING contacts c WHERE c.organization_id = :org AND c.phone = r.phone "
        "RETURNING r.line, r.phone AS detail"), {"org": org}, limit)


async def update_existing(conn: AsyncConnection, org: uuid.UUID, now: datetime) -> list[Row[Any]]:
    """Overwrite the contacts whose phone the batch names with the row's given fields (a name or
    time zone not given is kept, attributes are merged); answers each with its attributes before
    and the ones given, for its event."""
    return list(await conn.execute(text(
        "UPDATE contacts c SET name = coalesce(r.name, c.name), timezone = coalesce(r.timezone, c.timezone), "
        "    attributes = c.attributes || r.attributes, updated_at = :now "
        "FROM (SELECT r.phone, r.name, r.timezone, r.attributes, o.id, o.attributes AS before "
        "      FROM import_rows r JOIN contacts o ON o.organization_id = :org AND o.phone = r.phone) r "
        "WHERE c.id = r.id "
        "RETURNING c.id, c.phone, c.name, c.country, c.timezone, r.before, r.attributes AS given"),
        {"org": org, "now": now}))


async def insert_new(conn: AsyncConnection, org: uuid.UUID, now: datetime) -> int:
    """Create the batch's contacts whose phone is not taken and record their ids for their
    contact.created events, EVENT_PART per import_events row (one statement); answers how many
    were created. Rows go in id order: the ids are time-ordered, so the contacts' three indexes
    that lead with the id are filled at their right edge."""
    return (await conn.execute(text(
        "WITH created AS ("
        "  INSERT INTO contacts (id, organization_id, phone, name, country, attributes, created_at, updated_at, "
        "                        timezone) "
        "  SELECT contact_id, :org, phone, name, country, attributes, :now, :now, timezone FROM import_rows "
        "  ORDER BY contact_id "
        "  ON CONFLICT ON CONSTRAINT contacts_phone_unique DO NOTHING RETURNING id), "
        "parts AS ("
        "  INSERT INTO import_events (id, organization_id, occurred_at, contact_ids) "
        "  SELECT gen_random_uuid(), :org, :now, array_agg(id ORDER BY id) "
        "  FROM (SELECT id, (row_number() OVER (ORDER BY id) - 1) / :part AS part FROM created) numbered "
        "  GROUP BY part RETURNING 1) "
        "SELECT (SELECT count(*) FROM created) AS created, (SELECT count(*) FROM parts) AS parts"),
        {"org": org, "now": now, "part": EVENT_PART})).one().created


async def hold_audience(conn: AsyncConnection, org: uuid.UUID, audience_id: uuid.UUID) -> bool:
    """Lock the audience until the import ends (its members are added batch by batch, its count
    moved at the end), as every membership change does first; False when it is gone already."""
    return (await conn.execute(text(
        "SELECT 1 FROM audiences WHERE organization_id = :org AND id = :id FOR UPDATE"),
        {"org": org, "id": audience_id})).first() is not None


async def add_to_audience(conn: AsyncConnection, org: uuid.UUID, audience_id: uuid.UUID, now: datetime) -> int:
    """Every contact the batch names (created, updated or already there) joins the audience;
    answers how many joined (count_members then moves the audience's count once)."""
    return (await conn.execute(text(
        "WITH added AS ("
        "  INSERT INTO audience_members (audience_id, contact_id, added_at) "
        "  SELECT :audience, c.id, :now FROM import_rows r "
        "  JOIN contacts c ON c.organization_id = :org AND c.phone = r.phone "
        "  ON CONFLICT DO NOTHING RETURNING 1) "
        "SELECT count(*) AS added FROM added"),
        {"org": org, "audience": audience_id, "now": now})).one().added


async def count_members(conn: AsyncConnection, audience_id: uuid.UUID, added: int, now: datetime) -> None:
    await conn.execute(text(
        "UPDATE audiences SET contact_count = contact_count + :added, updated_at = :now WHERE id = :audience"),
        {"audience": audience_id, "added": added, "now": now})
