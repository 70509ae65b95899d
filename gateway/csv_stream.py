"""CSV exports streamed page by page: at most one page of rows is ever held, whatever the size
of the list. A failure after the first bytes were sent cannot change the status any more, so it
aborts the response (the client sees a broken transfer, never a silently short file)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from fastapi.responses import StreamingResponse

# One page of rows and the cursor of the next ("" on the last page).
PageReader = Callable[[str], Awaitable[tuple[Iterable[Sequence[Any]], str]]]


def cell(value: Any) -> Any:
    """null is an empty cell; a list is its items joined with `|` (node ids hold no `|`)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    return value


async def csv_lines(header: Sequence[str], read_page: PageReader) -> AsyncIterator[bytes]:
    """The header, then every page's rows as UTF-8 CSV (RFC 4180 quoting, CRLF line ends). The next
    page is read while this one is written and sent: at most two pages are held."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    pending = asyncio.ensure_future(read_page(""))
    try:
        while True:
            rows, cursor = await pending
            if cursor:
                pending = asyncio.ensure_future(read_page(cursor))
            for row in rows:
                writer.writerow([cell(v) for v in row])
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            if not cursor:
                return
    finally:
        pending.cancel()  # the client went away: no page is read for nobody


def csv_response(filename: str, header: Sequence[str], read_page: PageReader) -> StreamingResponse:
    return StreamingResponse(csv_lines(header, read_page), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})
