"""Call safety (issue 13) where leases expire and requests race: an execution replica stalled
while the leases of its contacts expire, a program deleted while its launch of 20,000 contacts
is under way, and a dialer stalled past its call lease while its calls are answered. As in
test_call_safety.py: no call starts after the API answered (TOLERANCE_REAL real seconds of
slack), no contact loses an attempt to a request not placed, counters add up at every read;
and here also: a person who answered is not called again."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import defaultdict

import httpx
import pytest

from tests.faults.campaigns import (
    ANSWER,
    RETRY,
    Mix,
    at_random_moment,
    batch_campaign,
    call_records,
    check_campaign,
    db,
    fault_rules,
    fault_system,
    wait_status,
)
from tests.faults.safety import (
    CounterWatch,
    assert_no_call_started,
    check_no_attempt_lost,
    check_safe_end,
    drained,
    pause,
    queued_requests,
    resume_to_completion,
    stalled,
    under_way,
)
from tests.support.campaigns import ACTIVE, Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]

TTL, LEASE, CALL_LEASE = 2, 3, 2
# An unknown call's reservation waits 30 s for its real result (FAULT_ENV: 2 s), longer than any
# stall here: the late answered calls are charged.
ENV = {"DIAL_REQUEST_TTL_SECONDS": str(TTL), "LEASE_SECONDS": str(LEASE),
       "DIALER_CALL_LEASE_SECONDS": str(CALL_LEASE), "DID_MAX_CONCURRENT_CALLS": "5",
       "DIALER_UNKNOWN_SETTLE_SECONDS": "30"}


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    # The gateway reaches execution replica 0 (EXECUTION_ADDR) only; replica 1 runs the same
    # orchestrator (dispatch, lease sweep) and consumers. Dialer 1 finishes the calls of a
    # stalled dialer 0 once their lease has run out.
    return fault_system(system_factory, sim_rules=fault_rules(6, 54), extra_env=ENV,
                        replicas={"execution": 2, "dialer": 2})


def test_execution_replica_stalled_while_leases_expire(system: System):
    """The dialers stall with requests queued, so the execution leases of the contacts run out
    and are swept (re-published); replica 1 stops at a random moment of that, the pause is
    answered by replica 0 (perhaps only once replica 1 continues and lets go of its locks).
    Replica 1 continues, then the dialers: none of the requests, first or re-published, is placed."""
    rng = random.Random(13)
    campaign = batch_campaign(Tenant(system), Mix(answer=40, retry=12, never=8), 30)
    with CounterWatch(campaign):
        under_way(campaign)
        at_random_moment(rng, 0.1, 1.0)
        dialers = LEASE + 2 * TTL + 2
        with stalled(system, "dialer", dialers, instance=0), stalled(system, "dialer", dialers, instance=1):
            assert queued_requests(system, campaign.execution_id) > 0
            at_random_moment(rng, LEASE, LEASE + 1)  # leases expire and are swept meanwhile
            with stalled(system, "execution", TTL + 1, instance=1):
                ack = pause(campaign)
        drained(campaign, "paused")
        resumed = resume_to_completion(campaign)
    # Calls frozen in the dialers outlived their call lease: unknown, then their real result.
    check_safe_end(campaign, status="completed", exact=False, after=ack, until=resumed, what="the pause")


def test_program_deleted_while_its_launch_is_under_way(system: System):
    """DELETE /programs/{id} racing the launch of 20,000 contacts, at several delays: once both
    have answered, the program has no active execution; a launch that answered 201 has its
    execution cancelled, and no call of it started after the DELETE's 204."""
    tenant = Tenant(system)
    audience_id = tenant.audience(20_000)
    deleter = httpx.Client(base_url=system.base_url + "/api", timeout=60, headers={"x-api-key": tenant.org.api_key})
    seen = defaultdict(int)
    for delay in (0.0, 0.1, 0.3, 0.8, 2.0):
        program_id = tenant.program(audience_id, maxConcurrentCalls=10)["id"]
        answers: dict = {}

        def launch(program_id=program_id, answers=answers):
            answers["launch"] = tenant.org.post(f"/programs/{program_id}/launch")
            answers["launched_at"] = time.monotonic()

        def delete(program_id=program_id, answers=answers, delay=delay):
            time.sleep(delay)
            answers["delete_sent"] = time.monotonic()
            answers["delete"] = deleter.delete(f"/programs/{program_id}")
            answers["ack"] = system.now()

        threads = [threading.Thread(target=launch), threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG_GUARD_SECONDS)
        assert answers["delete"].status_code == 204, (delay, answers["delete"].text)
        launched = answers["launch"]
        seen[launched.status_code] += 1

        def active(program_id=program_id) -> list:
            listed = tenant.org.get(f"/programs/{program_id}/executions")
            assert listed.status_code == 200, listed.text
            return [(e["id"], e["status"]) for e in listed.json() if e["status"] in ACTIVE]

        right_after = active()
        print(f"delay {delay}: launch {launched.status_code}, active right after both answered: {right_after}")
        if launched.status_code != 201:
            error = (launched.status_code, launched.json()["error"])
            assert error in ((409, "ProgramStatusConflictError"), (404, "ProgramNotFoundError")), (delay, error)
            assert tenant.org.get(f"/programs/{program_id}/executions").json() == [], "a refused launch leaves none"
            continue
        execution_id = launched.json()["executionId"]
        if answers["launched_at"] < answers["delete_sent"]:
            # Launched before the DELETE was sent: the DELETE cancelled it before answering.
            assert right_after == [], (delay, "active after the DELETE's 204")
        # Otherwise the launch that ends after the DELETE began is undone at once (no call ever).
        with contextlib.suppress(AssertionError):
            wait_until(lambda: active() == [])
        assert_no_call_started(system, execution_id, answers["ack"], what=f"the program's DELETE ({delay} s)")
        assert active() == [], (delay, "an execution of the deleted program still active")
        settled = wait_until(lambda eid=execution_id: (e := tenant.execution(eid))["contactsInProgress"] == 0 and e,
                             message="calls of the cancelled launch drained")
        assert settled["status"] == "cancelled", (delay, settled)
        check_no_attempt_lost(system, execution_id)
    deleter.close()
    print("launch answers:", dict(seen))


def called_after_answer(system: System, execution_id: str) -> list:
    """Calls made to a person after a call of theirs was answered: by the records (an answered
    attempt n and a later record), and by the carrier's rules (ANSWER numbers answer attempt 1,
    RETRY numbers attempt 3), which hold even when a record lost its real outcome."""
    answers_at = {ANSWER: 1, RETRY: 3}
    with db(system) as conn:
        records = call_records(conn, execution_id)
        phones = dict(conn.execute("SELECT contact_id, phone FROM execution.execution_contacts WHERE execution_id = %s",
                                   (execution_id,)).fetchall())
    by_contact = defaultdict(list)
    for record in records:
        by_contact[record["contact_id"]].append(record)
    wrong = []
    for contact_id, calls in by_contact.items():
        answered = sorted(r["attempt"] for r in calls if r["outcome"] == "answered")
        really = answers_at.get(phones[contact_id][5])  # +2126<kind>...
        for first in filter(None, (answered[0] if answered else None, really)):
            wrong += [(contact_id, first, r["attempt"], r["outcome"]) for r in calls
                      if r["attempt"] > first and r["started_at"] is not None]
        if len(answered) > 1:
            wrong.append((contact_id, "answered twice", answered))
    return wrong


def placing_in(system: System, execution_id: str, instance: int) -> int:
    """Calls of the execution being placed by dialer `instance` (a record's owner is host:pid:…)."""
    pid = str(system.group.find("dialer", instance).popen.pid)
    with db(system) as conn:
        return conn.execute("""
            SELECT count(*) FROM dialer.call_records
            WHERE execution_id = %s AND state = 'placing' AND split_part(owner, ':', 2) = %s""",
            (execution_id, pid)).fetchone()[0]


def test_dialer_stalled_past_its_call_lease_while_calls_are_answered(system: System):
    """Dialer 0 stops for 6 s with calls under way; dialer 1 finds their lease (2 s) run out and
    declares them of unknown fate. The retry delay (20 virtual minutes = 10 real s) is longer
    than the stall, so the real result dialer 0 brings back comes first: nobody who answered is
    called again, and no answered call is charged twice or lost."""
    retries = {"type": "fixed_delay", "delayMinutes": 20, "maxRetries": 2}
    campaign = batch_campaign(Tenant(system), Mix(answer=24, retry=8, never=4), 15, retries=retries)
    with CounterWatch(campaign):
        wait_until(lambda: placing_in(system, campaign.execution_id, 0) >= 3, interval=0.05,
                   message="calls under way in dialer 0")
        with stalled(system, "dialer", 6.0, instance=0):
            assert placing_in(system, campaign.execution_id, 0) > 0, "the stall must catch calls under way"
        wait_status(campaign, "completed")
    assert called_after_answer(system, campaign.execution_id) == []
    check_campaign(campaign, status="completed", exact=False)
    check_no_attempt_lost(system, campaign.execution_id)
