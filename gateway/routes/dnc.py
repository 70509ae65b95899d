"""/api/dnc: the organization's do-not-call list — numbers never called, whatever the program."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from gateway.auth import clients, organization_id
from gateway.clients import Clients, call
from gateway.dnc_csv import CsvNumbers
from gateway.models import ApiModel, ApiResponse
from gateway.paging import DEFAULT_LIMIT, Cursor, Limit, next_page
from kernel import errors
from outbound.audience.v1 import audience_pb2 as pb

router = APIRouter(tags=["do-not-call"])

IMPORT_PATH = "/api/dnc/import"
CHUNK_LINES = 5_000  # lines per chunk of the import stream
IMPORT_TIMEOUT = 3600.0  # the whole upload, however slow the client
_CHARSETS = {"utf-8", "utf8", "us-ascii", "ascii"}

PHONES_DOC = "1 to 10,000 numbers in international format starting with '+' (spaces and punctuation allowed)"
_CSV_BODY = {
    "requestBody": {
        "required": True,
        "description": "One number per line, or a header row with a `phone` column (other columns ignored)",
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    },
}


class DncAdd(ApiModel):
    phones: list[str] = Field(description=PHONES_DOC)
    reason: str | None = Field(None, description="At most 200 characters, kept with each number added")


class InvalidPhone(ApiResponse):
    index: int = Field(description="Index in `phones`")
    error: str


class InvalidLine(ApiResponse):
    line: int = Field(description="Line of the file (1-based, header and blank lines counted)")
    error: str


class DncAddResponse(ApiResponse):
    added: int
    already_listed: int = Field(description="Listed before, or earlier in the same request")
    invalid: list[InvalidPhone]


class DncImportResponse(ApiResponse):
    added: int
    already_listed: int = Field(description="Listed before, or earlier in the file")
    invalid: list[InvalidLine] = Field(description="The first 1,000 invalid lines, in file order")
    invalid_count: int = Field(description="Every invalid line")


class DncEntryResponse(ApiResponse):
    phone: str = Field(description="E.164")
    reason: str | None
    created_at: str


def entry_json(entry: pb.DncEntry) -> DncEntryResponse:
    return DncEntryResponse(phone=entry.phone, reason=entry.reason if entry.HasField("reason") else None,
                            created_at=entry.created_at)


def _query_phone(phone: str) -> str:
    # A '+' left unencoded in a query string arrives as a space: read it as the '+' it was.
    stripped = phone.strip()
    return "+" + stripped if phone.startswith(" ") and stripped[:1].isdigit() else phone


def _created_or_ok(response: Response, added: int) -> None:
    response.status_code = 201 if added else 200


@router.post("/dnc", status_code=201, response_model=DncAddResponse,
             responses={200: {"model": DncAddResponse, "description": "Nothing new was listed"}})
async def add_dnc(payload: DncAdd, response: Response, org: str = Depends(organization_id),
                  c: Clients = Depends(clients)) -> DncAddResponse:
    """List numbers (201 when at least one is new, else 200). Invalid numbers are answered by
    index and not listed; the others are."""
    request = pb.AddDncRequest(organization_id=org, phones=payload.phones)
    if payload.reason is not None:
        request.reason = payload.reason
    answer = await call(c.audience.AddDnc, request)
    _created_or_ok(response, answer.added)
    return DncAddResponse(added=answer.added, already_listed=answer.already_listed,
                          invalid=[InvalidPhone(index=i.index, error=i.error) for i in answer.invalid])


@router.get("/dnc", response_model=DncEntryResponse | list[DncEntryResponse])
async def get_dnc(response: Response, phone: str | None = Query(None, description="Answer this number's entry"),
                  limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None, org: str = Depends(organization_id),
                  c: Clients = Depends(clients)) -> DncEntryResponse | list[DncEntryResponse]:
    """With `?phone=` (write '+' as %2B): that number's entry, or 404 DncEntryNotFoundError.
    Without: the list, by number (paginated)."""
    if phone is not None:
        return entry_json(await call(c.audience.GetDnc,
                                     pb.GetDncRequest(organization_id=org, phone=_query_phone(phone))))
    answer = await call(c.audience.ListDnc, pb.ListDncRequest(organization_id=org, limit=limit, cursor=cursor or ""))
    next_page(response, answer.next_cursor)
    return [entry_json(e) for e in answer.entries]


@router.delete("/dnc/{phone}", status_code=204, response_class=Response)
async def remove_dnc(phone: str, org: str = Depends(organization_id), c: Clients = Depends(clients)) -> Response:
    """Unlist a number (write '+' as %2B): 204, or 404 DncEntryNotFoundError when it is not listed."""
    await call(c.audience.RemoveDnc, pb.RemoveDncRequest(organization_id=org, phone=phone))
    return Response(status_code=204)


def _require_csv(content_type: str) -> None:
    media, _, params = content_type.partition(";")
    charset = next((p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";")
                    if p.strip().lower().startswith("charset=")), "utf-8")
    if media.strip().lower() != "text/csv" or charset not in _CHARSETS:
        raise errors.ValidationError(f"Content-Type: text/csv (UTF-8) expected, got {content_type or 'none'!r}",
                                     field="Content-Type")


@router.post("/dnc/import", status_code=201, response_model=DncImportResponse, openapi_extra=_CSV_BODY,
             responses={200: {"model": DncImportResponse, "description": "Nothing new was listed"}})
async def import_dnc(request: Request, response: Response,
                     reason: str | None = Query(None, description="Kept with each number added"),
                     org: str = Depends(organization_id), c: Clients = Depends(clients)) -> DncImportResponse:
    """Import a CSV file (`Content-Type: text/csv`) of any size: it is read as it arrives and
    listed chunk by chunk, each chunk committed as it goes (an upload cut short keeps what was
    committed; importing again is harmless). 201 when at least one number is new, else 200."""
    _require_csv(request.headers.get("content-type", ""))
    failure: list[Exception] = []

    async def chunks() -> AsyncIterator[pb.DncImportChunk]:
        first = pb.DncImportChunk(organization_id=org)
        if reason is not None:
            first.reason = reason
        yield first
        parser = CsvNumbers()
        cells: list[str] = []
        lines: list[int] = []
        try:
            async for data in request.stream():
                more, at = parser.feed(data)
                cells += more
                lines += at
                while len(cells) >= CHUNK_LINES:
                    yield pb.DncImportChunk(lines=cells[:CHUNK_LINES], line_numbers=lines[:CHUNK_LINES])
                    del cells[:CHUNK_LINES], lines[:CHUNK_LINES]
            more, at = parser.close()
        except Exception as exc:  # a malformed file, a body over the limit, a client gone
            # Raised here it would only cancel the call: it is answered once the stream is closed.
            failure.append(exc)
            return
        cells += more
        lines += at
        for start in range(0, len(cells), CHUNK_LINES):
            yield pb.DncImportChunk(lines=cells[start:start + CHUNK_LINES],
                                    line_numbers=lines[start:start + CHUNK_LINES])

    answer = await call(c.audience.ImportDnc, chunks(), timeout=IMPORT_TIMEOUT)
    if failure:
        raise failure[0]
    _created_or_ok(response, answer.added)
    return DncImportResponse(added=answer.added, already_listed=answer.already_listed,
                             invalid=[InvalidLine(line=i.line, error=i.error) for i in answer.invalid],
                             invalid_count=answer.invalid_count)
