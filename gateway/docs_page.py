"""/api/docs: Swagger UI served entirely by the gateway, so the page works without internet.

The three Swagger UI files come with the gateway (`make web` copies them into
gateway/static/vendor/swagger-ui/); they are served under /api/docs/assets/ by this module
alone. The page names no other host: no CDN, no fonts, no validator badge.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/api/docs/assets"
ASSETS_DIR = Path(__file__).parent / "static" / "vendor" / "swagger-ui"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")


def install(app: FastAPI) -> None:
    """Mount the assets and the page. The app must be created with docs_url=None."""
    missing = [name for name in ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:
        # Without them the page would be blank: say what to run instead.
        raise RuntimeError(f"Swagger UI files missing in {ASSETS_DIR}: {', '.join(missing)} (run `make web`)")
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api-docs-assets")
    openapi_url = app.openapi_url or "/api/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — docs",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            # validatorUrl None: Swagger UI would otherwise call validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False,
                                   "displayRequestDuration": True},
        )
