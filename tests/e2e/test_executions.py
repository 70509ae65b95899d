"""Executions end to end through REST: launch, retries, windows, stopAt, pause, cancel, counters."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import pytest

from kernel.timefmt import iso, parse_iso
from tests.support.campaigns import (
    ACTIVE,
    ALWAYS_BUSY,
    ANSWER,
    LONG_CALL,
    RETRY_THEN_ANSWER,
    SIM_RULES,
    Tenant,
    progress,
    started,
    sum_holds,
)
from tests.support.system import System, wait_progressing, wait_until

pytestmark = pytest.mark.e2e

EXECUTION_KEYS = {"id", "programId", "organizationId", "audienceId", "flowId", "status", "totalContacts",
                  "contactsCompleted", "contactsFailed", "contactsPending", "contactsInProgress", "contactsSkipped", "contactsSkippedBy",
                  "scheduledStartAt", "scheduledStopAt", "actualStartAt", "actualEndAt", "autoPauseRules",
                  "createdAt", "updatedAt", "pauseReason", "heldBy"}


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=120, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


def test_batch_campaign_completes_with_exact_counters(tenant: Tenant):
    audience = tenant.audience(20)
    program = tenant.program(audience)
    execution_id = tenant.launch(program["id"])
    first = tenant.execution(execution_id)
    assert set(first) == EXECUTION_KEYS | {"autoPauseCounters"}
    assert (first["programId"], first["audienceId"], first["flowId"]) == (program["id"], audience, tenant.flow_id)
    assert first["totalContacts"] == 20 and first["autoPauseRules"] is None and first["scheduledStopAt"] is None
    done = tenant.wait_status(execution_id, "completed")
    assert [done[k] for k in ("contactsCompleted", "contactsFailed", "contactsPending", "contactsInProgress",
                              "contactsSkipped")] == [20, 0, 0, 0, 0]
    assert done["actualStartAt"] and done["actualEndAt"]
    calls = tenant.calls(execution_id)
    assert len(calls) == 20 and {c["outcome"] for c in calls} == {"answered"}
    assert tenant.org.get(f"/programs/{program['id']}").json()["status"] == "active"
    listed = tenant.org.get(f"/programs/{program['id']}/executions").json()
    assert [e["id"] for e in listed] == [execution_id]
    assert execution_id not in [e["id"] for e in tenant.org.get("/program-executions").json()]


def test_fixed_delay_retries_answer_on_the_third_attempt_never_early(tenant: Tenant):
    audience = tenant.audience(3, RETRY_THEN_ANSWER)
    program = tenant.program(audience, retryStrategy={"type": "fixed_delay", "delayMinutes": 2, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert (done["contactsCompleted"], done["contactsFailed"]) == (3, 0)
    by_contact = defaultdict(list)
    for call in tenant.calls(execution_id):
        by_contact[call["contactId"]].append(call)
    assert len(by_contact) == 3
    for calls in by_contact.values():
        calls.sort(key=lambda c: c["attempt"])
        assert [(c["attempt"], c["outcome"]) for c in calls] == [(1, "busy"), (2, "busy"), (3, "answered")]
        for before, after in zip(calls, calls[1:], strict=False):
            assert started(after) - parse_iso(before["endedAt"]) >= timedelta(minutes=2)


def test_exhausted_retries_fail_the_contact(tenant: Tenant):
    audience = tenant.audience(2, ALWAYS_BUSY)
    program = tenant.program(audience, retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 1})
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert (done["contactsCompleted"], done["contactsFailed"]) == (0, 2)
    attempts = sorted(c["attempt"] for c in tenant.calls(execution_id))
    assert attempts == [1, 1, 2, 2]


def test_scheduled_retries_wait_for_their_dates(tenant: Tenant, fast: System):
    now = fast.now()
    dates = [now + timedelta(minutes=3), now + timedelta(minutes=6)]
    audience = tenant.audience(2, RETRY_THEN_ANSWER)
    program = tenant.program(audience, retryStrategy={"type": "scheduled", "retryDates": [iso(d) for d in dates]})
    execution_id = tenant.launch(program["id"])
    done = tenant.wait_status(execution_id, "completed")
    assert done["contactsCompleted"] == 2
    for call in tenant.calls(execution_id):
        if call["attempt"] > 1:
            assert started(call) >= dates[call["attempt"] - 2]


def test_pause_window_covering_now_holds_every_call(tenant: Tenant, fast: System):
    now = fast.now()
    end = now + timedelta(minutes=4)
    audience = tenant.audience(5)
    program = tenant.program(audience, pauseWindows={"advanced": [
        {"startAt": iso(now - timedelta(minutes=1)), "endAt": iso(end)}]})
    execution_id = tenant.launch(program["id"])
    held = tenant.execution(execution_id)
    assert held["status"] == "running" and held["contactsPending"] == 5
    done = tenant.wait_status(execution_id, "completed")
    assert done["contactsCompleted"] == 5
    assert min(started(c) for c in tenant.calls(execution_id)) >= end


def test_stop_at_stops_and_skips_the_rest(tenant: Tenant, fast: System):
    audience = tenant.audience(12, LONG_CALL)
    program = tenant.program(audience, maxConcurrentCalls=1, stopAt=iso(fast.now() + timedelta(minutes=3)))
    execution_id = tenant.launch(program["id"])
    stopped = tenant.wait_status(execution_id, "stopped")
    assert stopped["contactsSkipped"] >= 9
    # actualEndAt is when the last call finished: unset while the call under way at stopAt talks.
    assert stopped["contactsInProgress"] == 0 or stopped["actualEndAt"] is None, stopped
    settled = wait_until(lambda: (e := tenant.execution(execution_id))["contactsInProgress"] == 0 and e)
    assert settled["contactsCompleted"] + settled["contactsSkipped"] == 12
    assert parse_iso(settled["actualEndAt"]) >= parse_iso(program["stopAt"])
    last_end = max(parse_iso(c["endedAt"]) for c in tenant.calls(execution_id))
    assert parse_iso(settled["actualEndAt"]) >= last_end
    assert all(started(c) < parse_iso(program["stopAt"]) for c in tenant.calls(execution_id))


def test_pause_stops_new_calls_and_resume_continues(tenant: Tenant):
    audience = tenant.audience(8, LONG_CALL)
    program = tenant.program(audience, maxConcurrentCalls=2)
    execution_id = tenant.launch(program["id"])
    wait_until(lambda: tenant.execution(execution_id)["contactsInProgress"] == 2, message="two calls")
    paused = tenant.org.patch(f"/program-executions/{execution_id}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
    again = tenant.org.patch(f"/program-executions/{execution_id}/pause")
    assert (again.status_code, again.json()["error"]) == (400, "InvalidExecutionStateError")
    settled = wait_until(lambda: (e := tenant.execution(execution_id))["contactsInProgress"] == 0 and e)
    # A call placed before the pause ends (completed); a contact the pause reached between its
    # claim and its dial goes back to pending, its attempt not consumed. Nothing fails.
    placed = len(tenant.calls(execution_id))
    assert settled["contactsCompleted"] == placed and settled["contactsPending"] == 8 - placed, settled
    calls_when_paused = len(tenant.calls(execution_id))
    time.sleep(2.0)  # four virtual minutes: nothing new may start
    still = tenant.execution(execution_id)
    assert still["status"] == "paused" and still["contactsPending"] == settled["contactsPending"]
    assert len(tenant.calls(execution_id)) == calls_when_paused
    unknown = tenant.org.patch(f"/program-executions/{execution_id}/resume", json={"speed": 2})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "ValidationError")
    bad = tenant.org.patch(f"/program-executions/{execution_id}/resume",
                           json={"autoPauseRules": [{"nodeId": "nowhere", "threshold": 1}]})
    assert (bad.status_code, bad.json()["error"]) == (400, "ValidationError")
    resumed = tenant.org.patch(f"/program-executions/{execution_id}/resume",
                               json={"autoPauseRules": [{"nodeId": "menu", "threshold": 50, "resetOnResume": True}]})
    assert resumed.status_code == 200 and resumed.json()["status"] == "running", resumed.text
    assert resumed.json()["autoPauseRules"] == [{"nodeId": "menu", "threshold": 50, "resetOnResume": True}]
    done = tenant.wait_status(execution_id, "completed")
    assert done["contactsCompleted"] == 8


def test_cancel_skips_pending_and_cannot_resume(tenant: Tenant):
    audience = tenant.audience(6, LONG_CALL)
    program = tenant.program(audience, maxConcurrentCalls=1)
    execution_id = tenant.launch(program["id"])
    wait_until(lambda: tenant.execution(execution_id)["contactsInProgress"] == 1, message="a call")
    cancelled = tenant.org.delete(f"/program-executions/{execution_id}")
    assert cancelled.status_code == 204 and cancelled.content == b""
    after = tenant.execution(execution_id)
    assert after["status"] == "cancelled" and after["contactsSkipped"] >= 4 and after["contactsPending"] == 0
    resume = tenant.org.patch(f"/program-executions/{execution_id}/resume")
    assert (resume.status_code, resume.json()["error"]) == (400, "InvalidExecutionStateError")
    again = tenant.org.delete(f"/program-executions/{execution_id}")
    assert (again.status_code, again.json()["error"]) == (400, "InvalidExecutionStateError")
    settled = wait_until(lambda: (e := tenant.execution(execution_id))["contactsInProgress"] == 0 and e)
    assert settled["contactsCompleted"] + settled["contactsSkipped"] == 6 and settled["status"] == "cancelled"


def test_second_launch_is_refused_and_racing_launches_make_one(tenant: Tenant):
    audience = tenant.audience(3, LONG_CALL)
    program = tenant.program(audience, maxConcurrentCalls=1)
    first = tenant.launch(program["id"])
    second = tenant.org.post(f"/programs/{program['id']}/launch")
    assert (second.status_code, second.json()["error"]) == (400, "ExecutionAlreadyRunningError")
    assert tenant.org.delete(f"/program-executions/{first}").status_code == 204

    racing = tenant.program(tenant.audience(300, LONG_CALL), maxConcurrentCalls=1)
    answers = []

    def launch():
        answers.append(tenant.org.post(f"/programs/{racing['id']}/launch"))

    threads = [threading.Thread(target=launch) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [a for a in answers if a.status_code == 201]
    assert len(created) == 1, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code != 201):
        assert (refused.status_code, refused.json()["error"]) in (
            (400, "ExecutionAlreadyRunningError"), (409, "ProgramStatusConflictError"))
    listed = tenant.org.get(f"/programs/{racing['id']}/executions").json()
    assert [e["id"] for e in listed] == [created[0].json()["executionId"]]
    active = [e["id"] for e in tenant.org.get("/program-executions").json()]
    assert created[0].json()["executionId"] in active
    assert all(e["status"] in ACTIVE for e in tenant.org.get("/program-executions").json())
    # Deleting the program archives it and cancels its execution.
    assert tenant.org.delete(f"/programs/{racing['id']}").status_code == 204
    tenant.wait_status(created[0].json()["executionId"], "cancelled")
    assert tenant.org.get(f"/programs/{racing['id']}/executions").status_code == 200


def test_counters_sum_at_every_read_during_a_large_campaign(tenant: Tenant):
    audience = tenant.audience(600, ANSWER)
    program = tenant.program(audience, maxConcurrentCalls=40)
    execution_id = tenant.launch(program["id"])
    reads = 0

    def read() -> dict:
        nonlocal reads
        execution = tenant.execution(execution_id)  # asserts the sum on every read
        reads += 1
        listed = next(e for e in tenant.org.get(f"/programs/{program['id']}/executions").json())
        assert sum_holds(listed)
        return execution

    # Read until it completes, as long as the machine needs; fail only once nothing moves.
    execution = wait_progressing(read, lambda e: e["status"] == "completed", progress, interval=0.05,
                                 message="the large campaign completed")
    assert execution["contactsCompleted"] == 600 and reads > 3


def test_unknown_and_foreign_ids_answer_404(tenant: Tenant, fast: System):
    missing = tenant.org.get(f"/programs/{uuid.uuid4()}/executions")
    assert (missing.status_code, missing.json()["error"]) == (404, "ProgramNotFoundError")
    launch = tenant.org.post(f"/programs/{uuid.uuid4()}/launch")
    assert (launch.status_code, launch.json()["error"]) == (404, "ProgramNotFoundError")
    for path in (f"/program-executions/{uuid.uuid4()}", "/program-executions/not-a-uuid"):
        answer = tenant.org.get(path)
        assert (answer.status_code, answer.json()["error"]) == (404, "ExecutionNotFoundError")
    program = tenant.program(tenant.audience(1))
    execution_id = tenant.launch(program["id"])
    other = fast.create_org(name="Other")
    for answer in (other.get(f"/program-executions/{execution_id}"),
                   other.patch(f"/program-executions/{execution_id}/pause"),
                   other.delete(f"/program-executions/{execution_id}"),
                   other.get(f"/programs/{program['id']}/executions")):
        assert answer.status_code == 404, answer.text
    assert execution_id not in [e["id"] for e in other.get("/program-executions").json()]


def test_empty_audience_and_stop_at_in_the_past_are_refused(tenant: Tenant, fast: System):
    empty = tenant.org.post("/audiences", json={"name": "empty"}).json()["id"]
    program = tenant.program(empty)
    answer = tenant.org.post(f"/programs/{program['id']}/launch")
    assert (answer.status_code, answer.json()["error"]) == (400, "AudienceEmptyError")
    assert tenant.org.get(f"/programs/{program['id']}/executions").json() == []
    past = tenant.program(tenant.audience(1), startAt=iso(fast.now() - timedelta(hours=2)),
                          stopAt=iso(fast.now() - timedelta(hours=1)))
    answer = tenant.org.post(f"/programs/{past['id']}/launch")
    assert (answer.status_code, answer.json()["error"]) == (400, "ValidationError")
