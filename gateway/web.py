"""The dashboard: the browser app at `/` and `/app/...`, its files under `/static`.

Every `/app/...` path answers the app's index.html, so a deep link (an execution's page pasted
into a new tab) opens that page: the app reads the path and routes itself. The API key never
reaches these routes; the app sends it as `x-api-key` to `/api` only.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
INDEX = STATIC / "app" / "index.html"

# The shell must be fetched again after a deploy; the files it names carry their own validators.
_NO_CACHE = {"Cache-Control": "no-cache"}


def mount(app: FastAPI) -> None:
    async def index() -> FileResponse:
        return FileResponse(INDEX, media_type="text/html", headers=_NO_CACHE)

    app.add_api_route("/", index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/app", index, methods=["GET"], include_in_schema=False)
    app.add_api_route("/app/{path:path}", index, methods=["GET"], include_in_schema=False)
    # check_dir=False: vendor/ may be absent until `make web`; app/ is committed.
    app.mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static")
