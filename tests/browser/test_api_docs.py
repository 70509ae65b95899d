"""/api/docs in headless Chromium with every host but the gateway unreachable: Swagger UI renders
the operations from the gateway's own files, authorizes with an API key through its dialog, and
"Try it out" on GET /api/programs shows the 200 answer."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["account", "program"], clock_speed=60)


def offline(page: Page, system: System) -> list[str]:
    """Abort every request to another host than the gateway; the list collects them."""
    gateway = urlsplit(system.base_url).netloc
    blocked: list[str] = []

    def only_gateway(route: Route) -> None:
        if urlsplit(route.request.url).netloc == gateway:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_gateway)
    return blocked


def operation(page: Page, method: str, path: str):
    return page.locator(f".opblock.opblock-{method}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]'))


def test_docs_render_offline_and_try_it_out_authenticates(page: Page, system: System):
    org = system.create_org()
    blocked = offline(page, system)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    page.goto(system.base_url + "/api/docs")
    expect(operation(page, "post", "/api/programs")).to_be_visible(timeout=30_000)
    expect(operation(page, "get", "/api/program-executions/{execution_id}")).to_be_visible()
    assert page.locator(".opblock").count() >= 40

    # Authorize: the x-api-key scheme's dialog.
    page.locator(".scheme-container button.authorize").click()
    dialog = page.locator(".dialog-ux")
    expect(dialog.get_by_text("x-api-key")).to_be_visible()
    dialog.locator("input").first.fill(org.api_key)
    dialog.locator(".auth-btn-wrapper button.authorize").click()
    dialog.locator("button.btn-done").click()
    expect(dialog).to_have_count(0)

    # Try it out: GET /api/programs with the key → 200.
    listing = operation(page, "get", "/api/programs")
    listing.locator(".opblock-summary").first.click()
    listing.locator("button.try-out__btn").click()
    listing.locator("button.execute").click()
    status = listing.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text("200", timeout=30_000)
    expect(listing.locator(".curl-command")).to_contain_text("x-api-key")

    assert blocked == [], f"the docs page reached for other hosts: {blocked}"
    assert failed == [], f"requests that failed: {failed}"
