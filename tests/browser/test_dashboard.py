"""The dashboard in Chromium against the whole system: sign-in, the program form with the API's
validation message next to its field, launch, a campaign watched live to 100 %, the live
programs' triggers per day, and axe-core on every page."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from kernel.timefmt import iso, parse_iso
from tests.browser.dashboard_pages import (
    LAPTOP,
    assert_accessible,
    no_horizontal_scroll,
    percent,
    screenshot,
    shown_counters,
    sign_in,
    status_text,
)
from tests.support.campaigns import ALWAYS_BUSY, ANSWER, LONG_CALL, SIM_RULES, Tenant
from tests.support.system import System, wait_progressing, wait_until

pytestmark = pytest.mark.e2e

_phones = itertools.count(random.randrange(1_000_000, 8_000_000, 10_000))


@pytest.fixture(scope="module")
def dash(system_factory) -> System:
    return system_factory(clock_speed=60, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(dash: System) -> Tenant:
    return Tenant(dash)


def add_contacts(tenant: Tenant, audience_id: str, count: int, kind: str) -> None:
    contacts = [{"phone": f"+2126{kind}{next(_phones):07d}"} for _ in range(count)]
    answer = tenant.org.post("/contacts/bulk", json={"contacts": contacts, "audienceId": audience_id})
    assert answer.status_code == 201, answer.text


def test_a_wrong_key_is_refused_with_a_message_and_stays_on_sign_in(page: Page, dash: System):
    page.set_viewport_size(LAPTOP)
    page.goto(dash.base_url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert_accessible(page, dash.base_url)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("This API key was not accepted. Check it and try again.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0
    assert page.get_by_label("API key").get_attribute("aria-invalid") == "true"


def test_create_launch_and_watch_a_campaign_to_completion(page: Page, dash: System, tenant: Tenant):
    page.set_viewport_size(LAPTOP)
    audience_id = tenant.audience(9, LONG_CALL)
    add_contacts(tenant, audience_id, 10, ANSWER)
    add_contacts(tenant, audience_id, 3, ALWAYS_BUSY)
    sign_in(page, dash, tenant.org.api_key)
    expect(page.get_by_role("heading", name="Programs", exact=True)).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('outbound.apiKey')") == tenant.org.api_key

    # The form: a value the API refuses, its message shown next to the field it names.
    page.get_by_label("Name").fill("Browser campaign")
    page.get_by_label("Audience").select_option(label="audience 3")
    page.get_by_label("Call flow").select_option(label="Reminder")
    for did in tenant.dids:
        page.get_by_label(f"{did.number} (MA)").check()
    page.get_by_label("Most calls at once").fill("3")
    page.get_by_label("Retry strategy").select_option("fixed_delay")
    page.get_by_label("Minutes between attempts").fill("1")
    page.get_by_label("Retries at most").fill("50")
    page.get_by_role("button", name="Add a weekly window").click()
    page.get_by_role("button", name="Create program").click()
    retries = page.get_by_label("Retries at most")
    expect(retries).to_have_attribute("aria-invalid", "true")
    note = page.locator("#p-retries + .field-error")
    expect(note).to_have_text("retryStrategy.maxRetries: must be between 0 and 20")
    assert retries.get_attribute("aria-describedby") == note.get_attribute("id")
    expect(retries).to_be_focused()
    assert tenant.org.get("/programs").json() == []  # nothing half-made
    assert_accessible(page, dash.base_url)
    screenshot(page, "programs-form-error.png")

    # Fixed, it is created with what the form said, and its page opens.
    retries.fill("0")
    page.get_by_role("button", name="Create program").click()
    expect(page.get_by_role("heading", name="Browser campaign")).to_be_visible()
    [program] = tenant.org.get("/programs").json()
    assert program["audienceId"] == audience_id and program["maxConcurrentCalls"] == 3
    assert program["retryStrategy"] == {"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 0}
    assert sorted(d["id"] for d in program["didPool"]) == sorted(d.id for d in tenant.dids)
    assert program["pauseWindows"] == {"monday": [{"startAt": {"hour": 12, "minute": 0},
                                                   "endAt": {"hour": 14, "minute": 0}}]}
    assert page.url.endswith(f"/app/programs/{program['id']}")
    expect(page.get_by_text("Not launched yet.")).to_be_visible()
    assert_accessible(page, dash.base_url)

    # Launch: the execution page follows it live, without reloading.
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_role("progressbar", name="Contacts done")).to_be_visible()
    execution_id = page.url.rsplit("/", 1)[1]
    assert tenant.execution(execution_id)["programId"] == program["id"]
    page.evaluate("() => { window.notReloaded = true; }")
    wait_until(lambda: (30 <= percent(page) and page.locator('[data-counter="contactsInProgress"]').inner_text() != "0")
               or percent(page) == 100, message="the campaign under way on the page", interval=0.05)
    calls = page.get_by_test_id("calls").locator("tbody tr")
    wait_until(lambda: percent(page) == 100 or calls.count() >= 5, message="calls listed", interval=0.05)
    screenshot(page, "execution-during.png")
    wait_progressing(lambda: (percent(page), status_text(page), shown_counters(page)),
                     lambda seen: seen[0] == 100 and seen[1] == "Completed", lambda seen: seen,
                     message="the page at 100 % and Completed")
    api = tenant.execution(execution_id)
    assert api["status"] == "completed"
    assert shown_counters(page) == {k: api[k] for k in shown_counters(page)}
    assert (api["contactsCompleted"], api["contactsFailed"]) == (19, 3)
    assert page.evaluate("() => window.notReloaded") is True
    # The latest calls (newest first) and both charts drawn from the call stats.
    expect(calls).to_have_count(20)
    expect(calls.first).to_contain_text("+2125")
    expect(page.locator('canvas[aria-label^="Outcomes over time: "]')).to_have_attribute(
        "aria-label", "Outcomes over time: answered 19, busy 3")
    expect(page.get_by_text("Finished: no more updates")).to_be_visible()
    assert no_horizontal_scroll(page)
    screenshot(page, "execution-completed.png")
    assert_accessible(page, dash.base_url)

    # The programs list shows the last execution's status and progress.
    page.get_by_role("link", name="Programs").first.click()
    row = page.get_by_role("row").filter(has_text="Browser campaign")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("100 %")
    expect(row.get_by_role("cell", name="batch")).to_be_visible()


def test_live_programs_page_shows_pending_triggers_per_day(page: Page, dash: System, tenant: Tenant):
    org = tenant.org
    assert org.post("/custom-attributes", json={"name": "Due", "slug": "due", "type": "date"}).status_code == 201
    now = parse_iso(org.get("/time").json()["now"])
    due_in = [timedelta(days=2), timedelta(days=2, hours=1), timedelta(days=5)]
    for offset in due_in:
        made = org.post("/contacts", json={"phone": f"+2126{ANSWER}{next(_phones):07d}", "attributes": {"due": iso(now + offset)}})
        assert made.status_code == 201, made.text
    made = org.post("/programs", json={
        "name": "Reminders", "mode": "live", "flowId": tenant.flow_id, "startAt": iso(now - timedelta(hours=1)),
        "didPool": [tenant.dids[0].id], "retryStrategy": {"type": "none"},
        "triggerCondition": {"type": "date", "attributeName": "due", "direction": "before",
                             "offset": {"days": 1, "hours": 0, "minutes": 0}}})
    assert made.status_code == 201, made.text
    program = made.json()
    tenant.launch(program["id"])
    pending = wait_until(lambda: (t := org.get(f"/programs/{program['id']}/triggers", params={"status": "pending"})
                                  .json()) and len(t) == 3 and t, message="three pending triggers")
    expected = Counter(parse_iso(t["triggerAt"]).date().isoformat() for t in pending)

    upcoming = org.get(f"/programs/{program['id']}/upcoming-triggers", params={"days": 10}).json()
    assert upcoming["timezone"] == "UTC" and upcoming["complete"] is True and len(upcoming["days"]) == 10
    assert {d["date"]: d["count"] for d in upcoming["days"] if d["count"]} == dict(expected)
    batch = org.get(f"/programs/{tenant.program(tenant.audience(1))['id']}/upcoming-triggers")
    assert (batch.status_code, batch.json()["error"]) == (400, "BadRequestException")

    page.set_viewport_size(LAPTOP)
    sign_in(page, dash, org.api_key, "/app/live")
    section = page.locator(f'[data-program="{program["id"]}"]')
    expect(section.get_by_role("heading", name="Reminders")).to_be_visible()
    for day, count in expected.items():
        expect(section.locator(f'tr[data-date="{day}"] [data-cell="count"]')).to_have_text(str(count))
    expect(section).to_contain_text("3 calls due in the next 14 days (UTC)")
    assert_accessible(page, dash.base_url)
