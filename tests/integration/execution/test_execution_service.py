"""ExecutionService against real PostgreSQL and NATS; peers are stand-ins speaking the contracts."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest

from kernel import errors
from kernel.timefmt import iso, parse_iso
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import execution_pb2 as pb
from outbound.program.v1 import events_pb2 as program_events
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import events_pb2 as trigger_events
from services.execution.domain.errors import (
    AudienceEmptyError,
    EmptyDidPoolError,
    ExecutionAlreadyRunningError,
    ExecutionNotFoundError,
    InvalidExecutionStateError,
    ProgramNotFoundError,
    ProgramStatusConflictError,
)
from tests.integration.execution.conftest import ORG, add_did, make_program
from tests.support.system import wait_progressing, wait_until

COUNTERS = ("contacts_completed", "contacts_failed", "contacts_pending", "contacts_in_progress", "contacts_skipped")


def launch(api, program) -> str:
    return api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id


def get(api, execution_id) -> pb.Execution:
    ex = api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert ex.total_contacts == sum(getattr(ex, c) for c in COUNTERS), ex
    return ex


def wait_status(api, execution_id, status):
    """The execution runs as fast as the machine lets it: fail only once it stops moving."""
    return wait_progressing(lambda: get(api, execution_id), lambda e: e.status == status,
                            lambda e: (e.status, *(getattr(e, c) for c in COUNTERS)), message=f"status {status}")


def contact_rows(db, execution_id):
    return db.execute("SELECT contact_ref, phone, state, attempt, last_outcome FROM execution_contacts "
                      "WHERE execution_id = %s ORDER BY id", (execution_id,)).fetchall()


def test_batch_campaign_runs_to_completion_with_retries(exec_system, api, db):
    world, dialer = exec_system.world, exec_system.dialer
    phones = ["+212611000001", "+212611000002", "+212611000003", "+212611000004"]
    dialer.outcomes.update({phones[0]: ["busy", "busy", "answered"], phones[1]: ["busy"],
                            phones[3]: ["no_answer", "answered"]})
    program = make_program(exec_system, phones=phones,
                           retry={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = launch(api, program)
    ex = get(api, execution_id)
    assert ex.status == "running" and ex.total_contacts == 4 and ex.actual_start_at
    assert not ex.HasField("auto_pause_rules")
    done = wait_status(api, execution_id, "completed")
    assert (done.contacts_completed, done.contacts_failed, done.contacts_pending, done.contacts_in_progress,
            done.contacts_skipped) == (3, 1, 0, 0, 0)
    assert done.actual_end_at
    rows = {r[1]: r for r in contact_rows(db, execution_id)}
    assert [rows[p][2:4] for p in phones] == [("completed", 3), ("failed", 3), ("completed", 1), ("completed", 2)]
    # The retry never comes before the delay.
    times = sorted(t for r, t in dialer.requests_for(execution_id) if r.phone == phones[0])
    assert len(times) == 3
    assert all(b - a >= timedelta(minutes=1) for a, b in zip(times, times[1:], strict=False))
    wait_until(lambda: program.id in world.marked_active, message="program marked active")


def test_scheduled_retries_use_future_dates(exec_system, api):
    dialer = exec_system.dialer
    now = exec_system.clock.now()
    phone = "+212611000010"
    dialer.outcomes[phone] = ["busy", "busy", "answered"]
    dates = [iso(now - timedelta(minutes=5)), iso(now + timedelta(minutes=1)), iso(now + timedelta(minutes=2))]
    program = make_program(exec_system, phones=[phone], retry={"type": "scheduled", "retryDates": dates})
    execution_id = launch(api, program)
    wait_status(api, execution_id, "completed")
    times = sorted(t for r, t in dialer.requests_for(execution_id))
    assert len(times) == 3
    assert times[1] >= parse_iso(dates[1]) and times[2] >= parse_iso(dates[2])


def test_launch_refusals(exec_system, api, db):
    world = exec_system.world
    with pytest.raises(ProgramNotFoundError):
        api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=str(uuid.uuid4())))
    archived = make_program(exec_system, status="archived")
    with pytest.raises(ProgramNotFoundError):
        launch(api, archived)
    other_org = make_program(exec_system)
    with pytest.raises(ProgramNotFoundError):
        api.LaunchProgram(pb.LaunchProgramRequest(organization_id=str(uuid.uuid4()), program_id=other_org.id))
    ended = make_program(exec_system, stop_in=timedelta(minutes=-1))
    with pytest.raises(errors.ValidationError):
        launch(api, ended)
    no_dids = make_program(exec_system, dids=[add_did(world, deleted=True), add_did(world, status="inactive")])
    with pytest.raises(EmptyDidPoolError):
        launch(api, no_dids)
    empty = make_program(exec_system, phones=["x"])
    world.audiences[empty.audience_id] = []
    with pytest.raises(AudienceEmptyError):
        launch(api, empty)
    assert db.execute("SELECT count(*) FROM executions WHERE program_id = ANY(%s)",
                      ([archived.id, ended.id, no_dids.id, empty.id],)).fetchone()[0] == 0


def test_one_active_execution_per_program(exec_system, api, db):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=3)
    first = launch(api, program)
    dialer.hold.add(first)
    with pytest.raises(ExecutionAlreadyRunningError):
        launch(api, program)
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=first))

    racing = make_program(exec_system, n=2000)
    outcomes: list[object] = []

    def attempt():
        try:
            outcomes.append(launch(api, racing))
        except errors.DomainError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if not isinstance(o, str)]
    assert len(ids) == 1, outcomes
    assert all(isinstance(e, ExecutionAlreadyRunningError | ProgramStatusConflictError)
               for e in refused)
    assert db.execute("SELECT count(*) FROM executions WHERE program_id = %s", (racing.id,)).fetchone()[0] == 1
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=ids[0]))


def test_pause_resume_cancel(exec_system, api, db):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=6, max_concurrent=2, rules=[{"nodeId": "menu", "threshold": 5}])
    execution_id = launch(api, program)
    dialer.hold.add(execution_id)
    wait_until(lambda: len(dialer.requests_for(execution_id)) >= 2, message="two calls queued")
    paused = api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert paused.status == "paused" and paused.auto_pause_rules.rules[0].node_id == "menu"
    with pytest.raises(InvalidExecutionStateError):
        api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    dialer.release(execution_id)  # queued calls finish
    wait_until(lambda: get(api, execution_id).contacts_in_progress == 0, message="queued calls finished")
    time.sleep(1.0)
    assert {r.attempt_id for r, _ in dialer.requests_for(execution_id)} == set(
        f"{execution_id}:{row[0]}:1" for row in contact_rows(db, execution_id) if row[3] == 1)
    assert get(api, execution_id).contacts_completed == 2

    bad = pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id)
    bad.auto_pause_rules.rules.add(node_id="nowhere", threshold=1)
    with pytest.raises(errors.ValidationError):
        api.ResumeExecution(bad)
    good = pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id)
    good.auto_pause_rules.rules.add(node_id="bye", threshold=9, reset_on_resume=True)
    dialer.hold.add(execution_id)
    resumed = api.ResumeExecution(good)
    assert resumed.status == "running"
    assert [(r.node_id, r.threshold, r.reset_on_resume) for r in resumed.auto_pause_rules.rules] == [("bye", 9, True)]
    wait_until(lambda: get(api, execution_id).contacts_in_progress == 2, message="dialing again")

    cancelled = api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert cancelled.status == "cancelled" and cancelled.contacts_skipped == 2 and cancelled.contacts_pending == 0
    dialer.release(execution_id)
    done = wait_until(lambda: (e := get(api, execution_id)).contacts_in_progress == 0 and e)
    assert (done.contacts_completed, done.contacts_skipped, done.status) == (4, 2, "cancelled")
    with pytest.raises(InvalidExecutionStateError):
        api.ResumeExecution(pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id))
    with pytest.raises(InvalidExecutionStateError):
        api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    with pytest.raises(ExecutionNotFoundError):
        api.GetExecution(pb.GetExecutionRequest(organization_id=str(uuid.uuid4()), execution_id=execution_id))


def test_scheduled_start_and_stop_at(exec_system, api):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=5, start_in=timedelta(minutes=2), stop_in=timedelta(minutes=4),
                           max_concurrent=1)
    execution_id = launch(api, program)
    ex = get(api, execution_id)
    assert ex.status == "scheduled" and not ex.actual_start_at
    dialer.hold.add(execution_id)  # one call at a time, never finishing: stopAt comes first
    running = wait_status(api, execution_id, "running")
    assert parse_iso(running.actual_start_at) >= parse_iso(program.start_at)
    stopped = wait_status(api, execution_id, "stopped")
    assert stopped.contacts_skipped == 4 and stopped.contacts_in_progress == 1
    first_call = min(t for _, t in dialer.requests_for(execution_id))
    assert first_call >= parse_iso(program.start_at)
    dialer.release(execution_id)
    done = wait_until(lambda: (e := get(api, execution_id)).contacts_in_progress == 0 and e)
    assert (done.contacts_completed, done.contacts_skipped, done.status) == (1, 4, "stopped")


def test_advanced_pause_window_holds_calls(exec_system, api):
    now = exec_system.clock.now()
    end = now + timedelta(minutes=2)
    program = make_program(exec_system, n=3, pause_windows={"advanced": [
        {"startAt": iso(now - timedelta(minutes=1)), "endAt": iso(end)}]})
    execution_id = launch(api, program)
    wait_status(api, execution_id, "completed")
    assert min(t for _, t in exec_system.dialer.requests_for(execution_id)) >= end


def test_no_credits_pauses_and_gives_the_attempt_back(exec_system, api, db):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=2, max_concurrent=1)
    execution_id = launch(api, program)
    dialer.reject[execution_id] = "no_credits"
    dialer.hold.add(execution_id)
    dialer.release(execution_id)
    paused = wait_status(api, execution_id, "paused_no_credits")
    assert paused.contacts_pending == 2 and paused.contacts_in_progress == 0
    assert all(row[3] == 0 for row in contact_rows(db, execution_id))
    del dialer.reject[execution_id]
    dialer.release(execution_id)
    api.ResumeExecution(pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id))
    wait_status(api, execution_id, "completed")
    assert all(row[2:4] == ("completed", 1) for row in contact_rows(db, execution_id))


def test_results_are_fenced_by_attempt(exec_system, api, db):
    program = make_program(exec_system, n=1)
    execution_id = launch(api, program)
    before = wait_status(api, execution_id, "completed")
    ref = contact_rows(db, execution_id)[0][0]
    for attempt, outcome in ((1, "busy"), (2, "answered"), (1, "answered")):
        result = dialer_events.CallResult(attempt_id=f"{execution_id}:{ref}:{attempt}", execution_id=execution_id,
                                          organization_id=ORG, attempt=attempt, outcome=outcome)
        exec_system.dialer.publish("call.completed", result.SerializeToString(), str(uuid.uuid4()))
    time.sleep(1.0)
    after = get(api, execution_id)
    assert [getattr(after, c) for c in COUNTERS] == [getattr(before, c) for c in COUNTERS]
    assert contact_rows(db, execution_id)[0][2:4] == ("completed", 1)


def test_expired_lease_republishes_the_same_attempt(exec_system, api):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=1)
    execution_id = launch(api, program)
    dialer.hold.add(execution_id)
    wait_until(lambda: len(dialer.requests_for(execution_id)) >= 2, message="re-published attempt")
    assert len({r.attempt_id for r, _ in dialer.requests_for(execution_id)}) == 1
    dialer.release(execution_id)
    done = wait_status(api, execution_id, "completed")
    assert done.contacts_completed == 1


def test_live_execution_grows_with_fired_triggers(exec_system, api, db):
    world, dialer = exec_system.world, exec_system.dialer
    program = make_program(exec_system, mode="live")
    execution_id = launch(api, program)
    assert world.live_started.count(execution_id) == 1  # started once, not again by the launch's side effects
    assert get(api, execution_id).total_contacts == 0
    triggers = [str(uuid.uuid4()), str(uuid.uuid4())]
    contact = str(uuid.uuid4())
    for trigger_id in [triggers[0], triggers[0], triggers[1]]:
        fired = trigger_events.TriggerFired(trigger_id=trigger_id, execution_id=execution_id, organization_id=ORG,
                                            program_id=program.id, contact_id=contact, phone="+212611000099",
                                            country="MA")
        dialer.publish("trigger.fired", fired.SerializeToString(), str(uuid.uuid4()))
    ex = wait_until(lambda: (e := get(api, execution_id)).contacts_completed == 2 and e)
    assert ex.total_contacts == 2 and ex.status == "running"
    time.sleep(0.5)
    assert get(api, execution_id).status == "running"  # live executions never complete by themselves
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    wait_until(lambda: execution_id in world.live_ended, message="live execution ended")
    late = trigger_events.TriggerFired(trigger_id=str(uuid.uuid4()), execution_id=execution_id,
                                       organization_id=ORG, program_id=program.id, contact_id=contact,
                                       phone="+212611000099", country="MA")
    dialer.publish("trigger.fired", late.SerializeToString(), str(uuid.uuid4()))
    time.sleep(0.5)
    assert get(api, execution_id).total_contacts == 2


def test_live_launch_fails_when_triggers_cannot_start(exec_system, api, db):
    world = exec_system.world
    program = make_program(exec_system, mode="live")
    world.fail_live_start = True
    try:
        with pytest.raises(errors.UnavailableError):
            launch(api, program)
    finally:
        world.fail_live_start = False
    statuses = db.execute("SELECT status FROM executions WHERE program_id = %s", (program.id,)).fetchall()
    assert statuses == [("cancelled",)]
    launch(api, program)  # the slot is free again


def test_a_launch_left_unconfirmed_is_confirmed_by_the_outbox_and_then_dials(exec_system, api, db):
    """The program service did not answer MarkProgramActive during the launch: nothing is dialed
    until the outbox sweep confirms the program (it holds the execution's row lock meanwhile, so
    the confirmation must be written in its own transaction, not wait on it)."""
    world = exec_system.world
    program = make_program(exec_system, n=2)
    world.fail_mark_active = True
    try:
        execution_id = launch(api, program)
        confirmed = "SELECT program_confirmed FROM executions WHERE id = %s"
        assert db.execute(confirmed, (execution_id,)).fetchone() == (False,)
        time.sleep(1.0)
        assert exec_system.dialer.requests_for(execution_id) == []
    finally:
        world.fail_mark_active = False
    done = wait_status(api, execution_id, "completed")
    assert done.contacts_completed == 2
    assert db.execute(confirmed, (execution_id,)).fetchone() == (True,)
    assert program.id in world.marked_active


def test_archiving_the_program_cancels_its_execution(exec_system, api):
    program = make_program(exec_system, n=3)
    execution_id = launch(api, program)
    exec_system.dialer.hold.add(execution_id)
    archived = program_events.ProgramArchived(program_id=program.id, organization_id=ORG)
    for _ in range(2):
        exec_system.dialer.publish("program.archived", archived.SerializeToString(), str(uuid.uuid4()))
    wait_status(api, execution_id, "cancelled")
    exec_system.dialer.release(execution_id)


def test_lists(exec_system, api):
    program = make_program(exec_system, n=1)
    first = launch(api, program)
    wait_status(api, first, "completed")
    second = launch(api, program)
    answer = api.ListExecutions(pb.ListExecutionsRequest(organization_id=ORG, program_id=program.id))
    assert [e.id for e in answer.executions] == [second, first]
    page = api.ListExecutions(pb.ListExecutionsRequest(organization_id=ORG, program_id=program.id, limit=1))
    assert [e.id for e in page.executions] == [second] and page.next_cursor
    rest = api.ListExecutions(pb.ListExecutionsRequest(organization_id=ORG, program_id=program.id, limit=1,
                                                       cursor=page.next_cursor))
    assert [e.id for e in rest.executions] == [first]
    active = api.ListExecutions(pb.ListExecutionsRequest(organization_id=ORG, active_only=True))
    assert all(e.status in ("scheduled", "running", "paused", "paused_no_credits", "paused_threshold")
               for e in active.executions)


def test_large_audience_is_copied_in_one_launch(exec_system, api, db):
    program = make_program(exec_system, n=1)
    from outbound.audience.v1 import audience_pb2

    exec_system.world.audiences[program.audience_id] = [
        audience_pb2.ContactRef(contact_id=f"c{i}", phone=f"+2127{i:08d}", country="MA") for i in range(100_000)]
    exec_system.world.programs[program.id].pause_windows.CopyFrom(program_pb2.PauseWindows(advanced=[
        program_pb2.PauseWindowAdvancedItem(start_at=iso(exec_system.clock.now()),
                                            end_at=iso(exec_system.clock.now() + timedelta(days=1)))]))
    execution_id = launch(api, program)
    ex = get(api, execution_id)
    assert ex.total_contacts == ex.contacts_pending == 100_000
    assert db.execute("SELECT count(*) FROM execution_contacts WHERE execution_id = %s",
                      (execution_id,)).fetchone()[0] == 100_000
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
