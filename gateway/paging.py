"""Keyset pages over REST, one way for every list: `?limit=` (1-1000, default 100) and
`?cursor=` in, the next page's cursor out in the `X-Next-Cursor` header, absent on the last
page. The services make and read the cursors (kernel.paging); the gateway only carries them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

NEXT_CURSOR = "X-Next-Cursor"
DEFAULT_LIMIT = 100

# Route parameters: `limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None`.
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(description=f"{NEXT_CURSOR} of the previous page")]


def next_page(response: Response, cursor: str) -> None:
    """Hand the client the next page's cursor ("" on the last page: no header)."""
    if cursor:
        response.headers[NEXT_CURSOR] = cursor
