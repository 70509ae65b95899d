"""The execution page's controls in Chromium: Pause, Resume (with edited auto-pause rules) and
Cancel, each behind a keyboard-usable confirmation dialog; the pause reason of an auto-pause
rule; the page on a phone; the live stream followed again after the gateway restarts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.dashboard_pages import (
    PHONE,
    assert_accessible,
    confirm_dialog,
    no_horizontal_scroll,
    open_execution,
    percent,
    screenshot,
    shown_counters,
)
from tests.support.campaigns import ANSWER, LONG_CALL, SIM_RULES, Tenant
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dash(system_factory) -> System:
    return system_factory(clock_speed=60, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(dash: System) -> Tenant:
    return Tenant(dash)


def in_progress_shown(page: Page) -> bool:
    return page.locator('[data-counter="contactsInProgress"]').inner_text() != "0"


def test_pause_and_resume_from_the_page(page: Page, dash: System, tenant: Tenant):
    program = tenant.program(tenant.audience(8, LONG_CALL), maxConcurrentCalls=2)
    execution_id = tenant.launch(program["id"])
    open_execution(page, dash, tenant, execution_id)
    wait_until(lambda: in_progress_shown(page), message="calls under way on the page")

    # Keyboard: the button opens the dialog, Escape closes it and nothing happens.
    pause = page.get_by_role("button", name="Pause", exact=True)
    pause.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Pause this execution?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Back")).to_be_focused()
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Pause", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert tenant.execution(execution_id)["status"] == "running"

    pause.click()
    confirm_dialog(page, "Pause")
    expect(page.get_by_test_id("status")).to_have_text("Paused")
    expect(page.get_by_test_id("pause-reason")).to_have_text("Paused by a user.")
    assert tenant.execution(execution_id)["status"] == "paused"
    screenshot(page, "execution-paused.png")

    page.get_by_role("button", name="Resume").click()
    confirm_dialog(page, "Resume")
    expect(page.get_by_test_id("status")).to_have_text("Running")
    expect(page.get_by_test_id("pause-reason")).to_be_hidden()
    resumed = tenant.execution(execution_id)
    assert resumed["status"] in ("running", "completed") and resumed["autoPauseRules"] is None
    assert tenant.wait_status(execution_id, "completed")["contactsCompleted"] == 8


def test_an_auto_pause_shows_its_rule_and_resume_replaces_the_rules(page: Page, dash: System, tenant: Tenant):
    rules = [{"nodeId": "welcome", "threshold": 3, "resetOnResume": True}]
    program = tenant.program(tenant.audience(10, ANSWER), maxConcurrentCalls=1, autoPauseRules=rules)
    execution_id = tenant.launch(program["id"])
    open_execution(page, dash, tenant, execution_id)
    expect(page.get_by_test_id("status")).to_have_text("Paused (auto-pause rule)", timeout=120_000)
    expect(page.get_by_test_id("pause-reason")).to_have_text("Auto-pause rule on node “welcome” reached 3 of 3.")
    counter = page.locator('tr[data-rule="welcome"]')
    expect(counter.locator('[data-cell="count"]')).to_have_text("3")
    expect(counter.locator('[data-cell="threshold"]')).to_have_text("3")

    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog", name="Resume this execution?")
    threshold = dialog.get_by_label("Threshold")
    expect(threshold).to_have_value("3")
    assert_accessible(page, dash.base_url)
    threshold.fill("0")  # refused by the API: the message sits next to the field, the dialog stays
    dialog.get_by_role("button", name="Resume").click()
    expect(threshold).to_have_attribute("aria-invalid", "true")
    note = dialog.locator(f'#{threshold.get_attribute("aria-describedby")}')
    expect(note).to_contain_text("autoPauseRules[0].threshold")
    assert tenant.execution(execution_id)["status"] == "paused_threshold"

    threshold.fill("100")
    dialog.get_by_role("button", name="Resume").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("status")).not_to_have_text("Paused (auto-pause rule)")
    assert tenant.execution(execution_id)["autoPauseRules"] == [{"nodeId": "welcome", "threshold": 100,
                                                                 "resetOnResume": True}]
    expect(counter.locator('[data-cell="threshold"]')).to_have_text("100")
    tenant.wait_status(execution_id, "completed")


def test_cancel_from_the_page_after_going_back_once(page: Page, dash: System, tenant: Tenant):
    program = tenant.program(tenant.audience(6, LONG_CALL), maxConcurrentCalls=1)
    execution_id = tenant.launch(program["id"])
    open_execution(page, dash, tenant, execution_id)
    wait_until(lambda: in_progress_shown(page), message="a call under way on the page")

    page.get_by_role("button", name="Cancel").click()
    confirm_dialog(page, "Back")
    assert tenant.execution(execution_id)["status"] == "running"
    page.get_by_role("button", name="Cancel").click()
    confirm_dialog(page, "Cancel execution")
    expect(page.get_by_test_id("status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    settled = wait_until(lambda: (e := tenant.execution(execution_id))["contactsInProgress"] == 0 and e)
    assert settled["status"] == "cancelled" and settled["contactsSkipped"] >= 4
    wait_until(lambda: shown_counters(page) == {k: settled[k] for k in shown_counters(page)},
               message="the page's counters equal to the API's")
    assert percent(page) == 100


def test_the_execution_page_fits_a_phone(browser: Browser, dash: System, tenant: Tenant):
    program = tenant.program(tenant.audience(4, ANSWER))
    execution_id = tenant.launch(program["id"])
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        open_execution(page, dash, tenant, execution_id)
        expect(page.get_by_test_id("status")).to_have_text("Completed", timeout=120_000)
        expect(page.get_by_test_id("calls").locator("tbody tr")).to_have_count(4)
        assert no_horizontal_scroll(page)
        for name in ("Programs", "Live programs"):
            expect(page.get_by_role("navigation").get_by_role("link", name=name, exact=True)).to_be_in_viewport()
        screenshot(page, "execution-phone.png")
        assert_accessible(page, dash.base_url)
    finally:
        context.close()


def test_a_dropped_stream_is_followed_again_without_reloading(page: Page, dash: System, tenant: Tenant):
    """Last in this module: it restarts the gateway."""
    program = tenant.program(tenant.audience(6, LONG_CALL), maxConcurrentCalls=1)
    execution_id = tenant.launch(program["id"])
    open_execution(page, dash, tenant, execution_id)
    stream = page.get_by_test_id("stream")
    expect(stream).to_have_text("Live: updates as they happen")
    page.evaluate("() => { window.notReloaded = true; }")
    port = dash.kill("gateway")
    expect(stream).to_have_text("Connection lost: reconnecting…")
    dash.restart("gateway", port=port)
    expect(stream).to_have_text("Live: updates as they happen", timeout=60_000)
    # A change made elsewhere reaches the page through the stream opened again.
    paused = tenant.org.patch(f"/program-executions/{execution_id}/pause")
    assert paused.status_code == 200, paused.text
    expect(page.get_by_test_id("status")).to_have_text("Paused")
    expect(page.get_by_test_id("pause-reason")).to_have_text("Paused by a user.")
    expect(page.get_by_role("alert")).to_be_hidden()
    assert page.evaluate("() => window.notReloaded") is True
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
