"""/api/contacts/import and /api/imports: contacts imported from a CSV file of any size, as a job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from starlette.exceptions import HTTPException

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.contacts_csv import CsvContacts, Rows
from gateway.models import ApiResponse
from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb

router = APIRouter(tags=["contacts"])

IMPORT_PATH = "/api/contacts/import"
CHUNK_ROWS = 5_000  # rows per message of the import stream
IMPORT_TIMEOUT = 3600.0  # the whole upload, however slow the client
_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": ("A header row naming `phone` (required), `name`, `timezone` and custom attribute slugs, "
                        "then one contact per row"),
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    },
}


class ImportRowError(ApiResponse):
    line: int = Field(description="Line of the file (1-based, header and blank lines counted); 0: the whole import")
    field: str = Field(description="phone, name, timezone, attributes.<slug>, row (the cell count) or import")
    message: str


class ImportResponse(ApiResponse):
    id: str
    status: Literal["running", "completed", "failed"]
    rows_read: int = Field(description="Data rows of the file (blank lines and the header not counted)")
    created: int
    updated: int
    skipped: int = Field(description="Valid rows whose phone was already a contact (onDuplicate=skip)")
    errors: list[ImportRowError] = Field(description="The first 1,000 rows not imported, by line")
    error_count: int
    atomic: bool
    on_duplicate: Literal["skip", "update", "fail"]
    audience_id: str | None
    created_at: str
    finished_at: str | None = Field(description="null while running")


def import_json(job: pb.ContactImport) -> ImportResponse:
    return ImportResponse(
        id=job.id, status=job.status, rows_read=job.rows_read, created=job.created,  # type: ignore[arg-type]
        updated=job.updated, skipped=job.skipped,
        errors=[ImportRowError(line=e.line, field=e.field, message=e.message) for e in job.errors],
        error_count=job.error_count, atomic=job.atomic, on_duplicate=job.on_duplicate,  # type: ignore[arg-type]
        audience_id=job.audience_id or None, created_at=job.created_at, finished_at=job.finished_at or None)


def _require_csv(content_type: str) -> None:
    media, _, params = content_type.partition(";")
    charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";")
                    if p.strip().lower().startswith("charset=")), "utf-8")
    if media.strip().lower() != "text/csv" or charset not in _CHARSETS:
        raise HTTPException(415, f"Content-Type: text/csv (UTF-8) expected, got {content_type or 'none'!r}")


def _chunk(rows: Rows, start: int, stop: int, cell_start: int) -> tuple[pb.ContactImportChunk, int]:
    counts = rows.counts[start:stop]
    cell_stop = cell_start + sum(counts)
    return pb.ContactImportChunk(cells=rows.cells[cell_start:cell_stop], cell_counts=counts,
                                 line_numbers=rows.lines[start:stop]), cell_stop


def _chunks(rows: Rows) -> list[pb.ContactImportChunk]:
    out, cells = [], 0
    for start in range(0, len(rows.counts), CHUNK_ROWS):
        chunk, cells = _chunk(rows, start, start + CHUNK_ROWS, cells)
        out.append(chunk)
    return out


@router.post("/contacts/import", status_code=202, response_model=ImportResponse, openapi_extra=_CSV_BODY,
             responses={404: {"description": "AudienceNotFoundError"},
                        415: {"description": "UnsupportedMediaTypeError: the body is not text/csv (UTF-8)"}})
async def import_contacts(
        request: Request,
        audience_id: str | None = Query(None, alias="audienceId", description="Add every contact of the file to it"),
        on_duplicate: Literal["skip", "update", "fail"] = Query(
            "skip", alias="onDuplicate", description="A row whose phone is already a contact of the organization"),
        atomic: bool = Query(False, description="true: one row in error and nothing is imported"),
        org: str = Depends(organization_id), c: Clients = Depends(clients)) -> ImportResponse:
    """Import a CSV file of contacts of any size (`Content-Type: text/csv`). The file is read as
    it arrives and staged; once it is whole, 202 answers the job, which applies it in one
    transaction: follow it with GET /api/imports/{id}."""
    _require_csv(request.headers.get("content-type", ""))
    parser = CsvContacts()
    body = request.stream().__aiter__()
    pending = Rows()
    ended = False
    async for data in body:  # up to the header: checked by the service before anything is written
        pending = parser.feed(data)
        if parser.header is not None:
            break
    else:
        pending, ended = parser.close(), True
    if parser.header is None:
        raise errors.ValidationError("header: a header row naming the columns is required", field="header")
    failure: list[Exception] = []

    async def chunks() -> AsyncIterator[pb.ContactImportChunk]:
        first = pb.ContactImportChunk(organization_id=org, audience_id=audience_id or "", on_duplicate=on_duplicate,
                                      atomic=atomic, header=parser.header)
        yield first
        rows = pending
        try:
            if not ended:
                async for data in body:
                    more = parser.feed(data)
                    rows.cells += more.cells
                    rows.counts += more.counts
                    rows.lines += more.lines
                    if len(rows.counts) >= CHUNK_ROWS:
                        for chunk in _chunks(rows):
                            yield chunk
                        rows = Rows()
                more = parser.close()
                rows.cells += more.cells
                rows.counts += more.counts
                rows.lines += more.lines
        except Exception as exc:  # a malformed file, a client gone: the stream ends without `last`
            failure.append(exc)
            return
        for chunk in _chunks(rows):
            yield chunk
        yield pb.ContactImportChunk(last=True)

    try:
        answer = await call(c.audience.ImportContacts, chunks(), timeout=IMPORT_TIMEOUT)
    except errors.DomainError:
        if failure:
            raise failure[0] from None
        raise
    return import_json(answer)


@router.get("/imports/{import_id}", response_model=ImportResponse,
            responses={404: {"description": "ImportNotFoundError"}})
async def get_import(import_id: str, org: str = Depends(organization_id),
                     c: Clients = Depends(clients)) -> ImportResponse:
    """A contact import: its status and counters, and its first 1,000 errors by line."""
    return import_json(await call(c.audience.GetContactImport,
                                  pb.GetContactImportRequest(organization_id=org, import_id=import_id)))
