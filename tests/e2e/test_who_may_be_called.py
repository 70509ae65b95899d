"""Who may be called, and when, end to end through REST on the fast clock: the do-not-call list is
asked at every claim (a number listed mid-campaign is not called again), an opt-out during a call
lists the number for every later program, the organization's frequency cap holds across programs
and defers rather than fails, `retryOn` ends an outcome it does not name, and one organization's
list and cap never touch another's contacts.

What was called is read from the call history (`/calls`), why a contact waits from the contacts
endpoint: the two must tell the same story.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from kernel.timefmt import parse_iso
from tests.support.campaigns import ALWAYS_BUSY, ANSWER, SIM_RULES, Tenant, serial, started
from tests.support.system import Org, System, wait_until

pytestmark = pytest.mark.e2e

NO_ANSWER = "4"  # rings out, every attempt
OPT_OUT = "5"    # answered, presses 9 at the first menu
RULES = {**SIM_RULES, "rules": [
    *SIM_RULES["rules"],
    {"match": r"^\+21264", "outcomes": ["no_answer"], "ringSeconds": 1, "talkSeconds": 5, "digits": []},
    {"match": r"^\+21265", "outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": ["9"]},
]}

OPT_OUT_FLOW = {"name": "Reminder with opt-out", "startNodeId": "menu", "nodes": [
    {"id": "menu", "type": "gather", "prompt": "Press 1 to confirm, 9 to stop these calls",
     "options": {"1": "thanks", "9": "stop"}, "timeoutSeconds": 5, "noInput": "bye"},
    {"id": "thanks", "type": "say", "text": "Thanks", "next": "bye"},
    {"id": "stop", "type": "optout", "text": "You will not be called again.", "next": "bye"},
    {"id": "bye", "type": "hangup"},
]}

DAY = timedelta(days=1)
SKIPPED_NONE = {"cancelled": 0, "stopped": 0, "dnc": 0}


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(clock_speed=300, sim_rules=RULES)


@pytest.fixture
def tenant(system: System) -> Tenant:
    """An organization of its own per test: its list and cap are its settings alone."""
    return Tenant(system)


# --- helpers -------------------------------------------------------------------------------------

def phones(kind: str, count: int) -> list[str]:
    """Fresh numbers the simulated carrier treats as `kind` (see RULES)."""
    return [f"+2126{kind}{next(serial):07d}" for _ in range(count)]


def audience_of(tenant: Tenant, numbers: list[str]) -> str:
    made = tenant.org.post("/audiences", json={"name": "Who may be called"})
    assert made.status_code == 201, made.text
    audience_id: str = made.json()["id"]
    answer = tenant.org.post("/contacts/bulk", json={"contacts": [{"phone": p} for p in numbers],
                                                     "audienceId": audience_id})
    assert answer.status_code == 201, answer.text
    return audience_id


def busy_retries(delay_minutes: int, max_retries: int, **more: Any) -> dict[str, Any]:
    return {"type": "fixed_delay", "delayMinutes": delay_minutes, "maxRetries": max_retries, **more}


def contacts(tenant: Tenant, execution_id: str, state: str | None = None) -> list[dict[str, Any]]:
    """Every contact of the execution, page by page."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {}), **({"state": state} if state else {})}
        page = tenant.org.get(f"/program-executions/{execution_id}/contacts", params=params)
        assert page.status_code == 200, page.text
        out += page.json()
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            return out


def contact(tenant: Tenant, execution_id: str, contact_id: str) -> dict[str, Any]:
    answer = tenant.org.get(f"/program-executions/{execution_id}/contacts/{contact_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def by_phone(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row["phone"]].append(row)
    return out


def calls_by_phone(tenant: Tenant, *execution_ids: str) -> dict[str, list[dict[str, Any]]]:
    """The finished calls of the executions per number, oldest first."""
    out = by_phone([c for e in execution_ids for c in tenant.calls(e)])
    for calls in out.values():
        calls.sort(key=started)
    return out


def set_limits(org: Org, limits: dict[str, int] | None) -> None:
    answer = org.http.put("/settings/contact-limits", json=limits)
    assert answer.status_code == 200 and answer.json() == limits, answer.text


def cancel(tenant: Tenant, execution_id: str) -> dict[str, Any]:
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
    return tenant.execution(execution_id)


def deferred_by_cap(rows: list[dict[str, Any]], launched_at: datetime) -> bool:
    """Every contact waits for the cap's window, its next attempt moved a day on (not failed)."""
    return bool(rows) and all(
        c["state"] == "pending" and c["blockedBy"] == "frequency_cap"
        and parse_iso(c["nextAttemptAt"]) >= launched_at + DAY for c in rows)


def on_dnc(org: Org, phone: str) -> dict[str, Any] | None:
    answer = org.get("/dnc", params={"phone": phone})
    if answer.status_code == 404:
        assert answer.json()["error"] == "DncEntryNotFoundError", answer.text
        return None
    assert answer.status_code == 200, answer.text
    entry: dict[str, Any] = answer.json()
    return entry


# --- the do-not-call list ------------------------------------------------------------------------

RETRY_MINUTES = 90  # long enough that the number is listed well before its retry is due


def test_a_number_listed_mid_campaign_is_never_called_again(tenant: Tenant, system: System):
    listed, *others = phones(ALWAYS_BUSY, 3)
    program = tenant.program(audience_of(tenant, [listed, *others]),
                             retryStrategy=busy_retries(RETRY_MINUTES, max_retries=1))
    execution_id = tenant.launch(program["id"])

    def first_attempts_done() -> list[dict[str, Any]] | None:
        rows = contacts(tenant, execution_id)
        done = len(rows) == 3 and all(
            (c["state"], c["attempts"], c["lastOutcome"]) == ("pending", 1, "busy") for c in rows)
        return rows if done else None

    waiting = wait_until(first_attempts_done, message="every first attempt busy, retries pending")
    read_at = system.now()
    for row in waiting:
        if parse_iso(row["nextAttemptAt"]) > read_at:  # nothing else holds them: the retry is not due
            assert row["blockedBy"] == "retry_delay", row
    target = by_phone(waiting)[listed][0]
    retry_due = parse_iso(target["nextAttemptAt"])

    added = tenant.org.post("/dnc", json={"phones": [listed], "reason": "asked by email"})
    assert added.status_code == 201 and added.json() == {"added": 1, "alreadyListed": 0, "invalid": []}
    added_at = system.now()
    # A claim takes only due contacts, so none of this number came before the list had it. The
    # retry is due RETRY_MINUTES (18 real seconds) after the first call ended: this only guards
    # the premise, it measures nothing.
    assert added_at < retry_due, f"the number was listed after its retry was due ({added_at} >= {retry_due})"
    held = contact(tenant, execution_id, target["contactId"])
    if held["state"] == "pending":  # the usual case: its retry has not been claimed yet
        assert (held["blockedBy"], held["attempts"]) == ("dnc", 1), held
    else:  # the claim already found it listed
        assert (held["state"], held["skippedReason"]) == ("skipped", "dnc"), held

    done = tenant.wait_status(execution_id, "completed")
    assert (done["contactsCompleted"], done["contactsFailed"], done["contactsSkipped"]) == (0, 2, 1), done
    assert done["contactsSkippedBy"] == {**SKIPPED_NONE, "dnc": 1}

    calls = calls_by_phone(tenant, execution_id)
    assert [(c["attempt"], c["outcome"]) for c in calls[listed]] == [(1, "busy")]
    assert started(calls[listed][0]) < added_at
    for phone in others:  # the campaign went on for the numbers not listed
        assert [c["attempt"] for c in calls[phone]] == [1, 2]
        assert started(calls[phone][1]) >= parse_iso(calls[phone][0]["endedAt"]) + timedelta(minutes=RETRY_MINUTES)
        assert started(calls[phone][1]) > added_at

    final = contact(tenant, execution_id, target["contactId"])
    assert final == {**target, "state": "skipped", "attempts": 1, "lastOutcome": "busy", "nextAttemptAt": None,
                     "blockedBy": None, "skippedReason": "dnc"}
    assert [c["phone"] for c in contacts(tenant, execution_id, state="skipped")] == [listed]
    assert {c["phone"] for c in contacts(tenant, execution_id, state="failed")} == set(others)


def test_an_optout_press_lists_the_number_and_later_programs_skip_it(tenant: Tenant):
    flow = tenant.org.post("/flows", json=OPT_OUT_FLOW)
    assert flow.status_code == 201, flow.text
    leaving, staying = phones(OPT_OUT, 2), phones(ANSWER, 2)
    audience = audience_of(tenant, leaving + staying)
    first = tenant.launch(tenant.program(audience, flowId=flow.json()["id"])["id"])
    done = tenant.wait_status(first, "completed")
    assert (done["contactsCompleted"], done["contactsSkipped"]) == (4, 0), done
    for phone, calls in calls_by_phone(tenant, first).items():
        expected = ["menu", "stop", "bye"] if phone in leaving else ["menu", "bye"]
        assert [c["nodeIds"] for c in calls] == [expected], (phone, calls)

    # The audience context lists the number once it has the call's result.
    for phone in leaving:
        entry = wait_until(lambda p=phone: on_dnc(tenant.org, p), message=f"{phone} on the do-not-call list")
        assert (entry["phone"], entry["reason"]) == (phone, "opt-out")
    assert [on_dnc(tenant.org, p) for p in staying] == [None, None]

    later = tenant.launch(tenant.program(audience)["id"])
    done = tenant.wait_status(later, "completed")
    assert (done["contactsCompleted"], done["contactsFailed"], done["contactsSkipped"]) == (2, 0, 2), done
    assert done["contactsSkippedBy"] == {**SKIPPED_NONE, "dnc": 2}
    assert set(calls_by_phone(tenant, later)) == set(staying)
    rows = by_phone(contacts(tenant, later))
    for phone in leaving:
        assert [(r["state"], r["skippedReason"], r["attempts"], r["blockedBy"]) for r in rows[phone]] == [
            ("skipped", "dnc", 0, None)]
    for phone in staying:
        assert [(r["state"], r["skippedReason"]) for r in rows[phone]] == [("completed", None)]


# --- the frequency cap ---------------------------------------------------------------------------

def test_two_programs_place_at_most_the_cap_per_number_per_day(tenant: Tenant, system: System):
    set_limits(tenant.org, {"maxAttempts": 2, "perDays": 1})
    numbers = phones(ALWAYS_BUSY, 3)
    audience = audience_of(tenant, numbers)
    # Without the cap: 4 attempts per number per program, a minute apart.
    programs = [tenant.program(audience, retryStrategy=busy_retries(1, max_retries=3)) for _ in range(2)]
    launched_at = system.now()
    executions = [tenant.launch(p["id"]) for p in programs]

    def all_deferred() -> list[dict[str, Any]] | None:
        rows = [c for e in executions for c in contacts(tenant, e)]
        return rows if deferred_by_cap(rows, launched_at) else None

    held = wait_until(all_deferred, message="every contact of both programs deferred by the cap")
    calls = calls_by_phone(tenant, *executions)
    assert set(calls) == set(numbers)
    for phone in numbers:
        starts = [started(c) for c in calls[phone]]
        assert len(starts) == 2 and starts[1] - starts[0] < DAY, calls[phone]
        rows = by_phone(held)[phone]
        # Deferral does not consume an attempt: both executions' attempts add up to the calls.
        assert sum(r["attempts"] for r in rows) == 2 and {r["lastOutcome"] for r in rows} <= {"busy", None}
        # Due again when the first counted attempt (counted at its claim: after the launch, at
        # the latest when it started) leaves the 24-hour window.
        due = {parse_iso(r["nextAttemptAt"]) for r in rows}
        assert len(due) == 1, rows
        assert launched_at + DAY <= due.pop() <= starts[0] + DAY
    for execution_id in executions:
        per_contact = by_phone(tenant.calls(execution_id))
        for calls_of_one in per_contact.values():
            assert sorted(c["attempt"] for c in calls_of_one) == list(range(1, len(calls_of_one) + 1))

    # Many retry delays later nothing more was placed: the third attempt waits for the window.
    wait_until(lambda: system.now() >= launched_at + timedelta(minutes=15), message="15 virtual minutes")
    assert {p: len(c) for p, c in calls_by_phone(tenant, *executions).items()} == dict.fromkeys(numbers, 2)
    assert all_deferred()
    for execution_id in executions:
        ended = cancel(tenant, execution_id)
        assert (ended["contactsSkipped"], ended["contactsSkippedBy"]) == (3, {**SKIPPED_NONE, "cancelled": 3})


# --- retry by outcome ----------------------------------------------------------------------------

def test_retry_on_busy_fails_a_no_answer_at_once_and_retries_busy(tenant: Tenant):
    unanswered, busy = phones(NO_ANSWER, 2), phones(ALWAYS_BUSY, 2)
    program = tenant.program(audience_of(tenant, unanswered + busy),
                             retryStrategy=busy_retries(1, max_retries=2, retryOn=["busy"]))
    assert program["retryStrategy"]["retryOn"] == ["busy"]
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert (done["contactsCompleted"], done["contactsFailed"], done["contactsSkipped"]) == (0, 4, 0), done

    calls = calls_by_phone(tenant, execution_id)
    for phone in unanswered:
        assert [(c["attempt"], c["outcome"]) for c in calls[phone]] == [(1, "no_answer")]
    for phone in busy:
        assert [(c["attempt"], c["outcome"]) for c in calls[phone]] == [(1, "busy"), (2, "busy"), (3, "busy")]
    rows = by_phone(contacts(tenant, execution_id))
    for phone in unanswered:
        assert [(r["state"], r["attempts"], r["lastOutcome"], r["nextAttemptAt"], r["blockedBy"])
                for r in rows[phone]] == [("failed", 1, "no_answer", None, None)]
    for phone in busy:
        assert [(r["state"], r["attempts"], r["lastOutcome"]) for r in rows[phone]] == [("failed", 3, "busy")]


# --- tenancy -------------------------------------------------------------------------------------

def test_another_organizations_list_and_cap_leave_these_contacts_alone(system: System):
    ours, theirs = Tenant(system), Tenant(system)
    listed, capped = numbers = phones(ALWAYS_BUSY, 2)  # the same numbers in both organizations
    assert theirs.org.post("/dnc", json={"phones": [listed]}).status_code == 201
    set_limits(theirs.org, {"maxAttempts": 1, "perDays": 1})
    set_limits(ours.org, {"maxAttempts": 3, "perDays": 1})

    launched_at = system.now()
    their_execution = theirs.launch(theirs.program(audience_of(theirs, numbers),
                                                   retryStrategy=busy_retries(1, max_retries=2))["id"])

    def theirs_held() -> dict[str, list[dict[str, Any]]] | None:
        rows = by_phone(contacts(theirs, their_execution))
        done = ([(r["state"], r["skippedReason"]) for r in rows[listed]] == [("skipped", "dnc")]
                and deferred_by_cap(rows[capped], launched_at))
        return rows if done else None

    held = wait_until(theirs_held, message="their listed number skipped, the other deferred by their cap")
    assert held[capped][0]["attempts"] == 1

    # Our program over the same numbers: neither their list nor their counted attempt applies;
    # our own cap of 3 a day lets every attempt of 1 + 2 retries through.
    our_execution = ours.launch(ours.program(audience_of(ours, numbers),
                                             retryStrategy=busy_retries(1, max_retries=2))["id"])

    def ours_settled() -> dict[str, Any] | None:
        execution = ours.execution(our_execution)
        if execution["status"] == "completed":
            return execution
        # Fail at once rather than wait for a contact that another organization holds back.
        wrongly_held = [c for c in contacts(ours, our_execution) if c["blockedBy"] in ("dnc", "frequency_cap")
                        or c["state"] == "skipped"]
        assert not wrongly_held, wrongly_held
        return None

    done = wait_until(ours_settled, message="our execution completed")
    assert (done["contactsFailed"], done["contactsSkipped"], done["contactsSkippedBy"]) == (2, 0, SKIPPED_NONE)
    calls = calls_by_phone(ours, our_execution)
    for phone in numbers:
        assert [c["attempt"] for c in calls[phone]] == [1, 2, 3]
    assert [(r["state"], r["attempts"]) for rows in by_phone(contacts(ours, our_execution)).values()
            for r in rows] == [("failed", 3), ("failed", 3)]
    assert on_dnc(ours.org, listed) is None and on_dnc(theirs.org, listed) is not None

    # Theirs is untouched by our calls: one call placed, the rest still waiting for their window.
    assert {p: len(c) for p, c in calls_by_phone(theirs, their_execution).items()} == {capped: 1}
    still = by_phone(contacts(theirs, their_execution))
    assert deferred_by_cap(still[capped], launched_at) and still[capped][0]["attempts"] == 1
    assert cancel(theirs, their_execution)["contactsSkippedBy"] == {**SKIPPED_NONE, "cancelled": 1, "dnc": 1}
