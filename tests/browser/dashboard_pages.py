"""What the dashboard's browser tests share: the system, signing in, reading the execution page,
axe-core checks and screenshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.campaigns import COUNTERS, Tenant
from tests.support.system import System

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".run" / "screenshots"
SHOWN = (*COUNTERS, "totalContacts")
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def sign_in(page: Page, system: System, key: str, path: str = "/app/") -> None:
    page.goto(system.base_url + path)
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def open_execution(page: Page, system: System, tenant: Tenant, execution_id: str) -> None:
    """A deep link opened in a fresh tab: sign-in first, then the page the link names."""
    sign_in(page, system, tenant.org.api_key, f"/app/executions/{execution_id}")
    expect(page.get_by_role("progressbar", name="Contacts done")).to_be_visible()


def shown_counters(page: Page) -> dict[str, int]:
    return {name: int(page.locator(f'[data-counter="{name}"]').inner_text()) for name in SHOWN}


def percent(page: Page) -> int:
    return int(page.get_by_role("progressbar", name="Contacts done").get_attribute("aria-valuenow") or "0")


def status_text(page: Page) -> str:
    return page.get_by_test_id("status").inner_text()


def serious_violations(page: Page, base_url: str) -> list[dict[str, Any]]:
    """axe-core run in the page: the serious and critical violations (WCAG 2 A/AA rules)."""
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(url=f"{base_url}/static/vendor/axe.min.js")
    found = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ['violations'],
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
        return result.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')) }));
    }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Page, base_url: str) -> None:
    violations = serious_violations(page, base_url)
    assert violations == [], violations


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def confirm_dialog(page: Page, button: str) -> None:
    """Answer the open confirmation dialog with its `button`."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_be_hidden()
