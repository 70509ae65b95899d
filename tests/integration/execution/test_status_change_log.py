"""The status change log and its publisher: the execution service against real PostgreSQL, NATS
and Redis (peers and dialer are the stand-ins of fakes.py and test_auto_pause.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from kernel import jetstream
from kernel.timefmt import iso, parse_iso
from outbound.execution.v1 import events_pb2
from outbound.execution.v1 import execution_pb2 as pb
from services.execution.domain.errors import ExecutionNotFoundError
from tests.integration.execution.conftest import ORG, execution_alone, make_program
from tests.integration.execution.test_auto_pause import NodeDialer, phones
from tests.support.system import HANG_GUARD_SECONDS, wait_until


@pytest.fixture(scope="module")
def exec_system(system_factory, world):
    """Calls that stay in progress until released (NodeDialer), and leases that outlast the test."""
    with execution_alone(system_factory, world, NodeDialer, lease_seconds=30) as system:
        yield system


def launch(api, program) -> str:
    return api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id


def get(api, execution_id) -> pb.Execution:
    return api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=execution_id))


def wait_status(api, execution_id, status) -> pb.Execution:
    return wait_until(lambda: (e := get(api, execution_id)).status == status and e, HANG_GUARD_SECONDS,
                      message=f"status {status}")


def logged(db, execution_id) -> list[tuple]:
    """(previous, status) of the execution's log rows, in seq order."""
    return [tuple(r) for r in db.execute(
        "SELECT previous_status, status FROM execution_status_changes WHERE execution_id = %s ORDER BY seq",
        (execution_id,)).fetchall()]


def changes(api, execution_id, after=0, limit=0, org=ORG) -> list[pb.ExecutionStatusChange]:
    return list(api.ListStatusChanges(pb.ListStatusChangesRequest(
        organization_id=org, execution_id=execution_id, after_seq=after, limit=limit)).changes)


def test_launch_pause_resume_cancel_each_land_once(exec_system, api, db):
    numbers = phones(4)
    exec_system.dialer.hold_phones.update(numbers)  # calls stay in progress: nothing completes
    program = make_program(exec_system, phones=numbers, max_concurrent=1)
    execution_id = launch(api, program)
    assert logged(db, execution_id) == [(None, "running")]
    api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    api.ResumeExecution(pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id))
    cancelled = api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert logged(db, execution_id) == [(None, "running"), ("running", "paused"), ("paused", "running"),
                                        ("running", "cancelled")]
    listed = changes(api, execution_id)
    assert [c.seq for c in listed] == sorted(c.seq for c in listed) and len({c.seq for c in listed}) == 4
    # The creation's snapshot has the launch's totals (taken at commit); occurredAt is the
    # execution's updatedAt at the change (virtual time).
    first, last = listed[0], listed[-1]
    assert first.previous_status == "" and first.execution.total_contacts == 4
    assert first.execution.status == "running" and first.occurred_at == first.execution.updated_at
    assert last.status == "cancelled" and last.execution.contacts_skipped == cancelled.contacts_skipped
    assert last.occurred_at == cancelled.updated_at
    assert parse_iso(last.occurred_at) >= parse_iso(first.occurred_at)
    # Paging and tenancy.
    assert [c.seq for c in changes(api, execution_id, after=listed[1].seq, limit=1)] == [listed[2].seq]
    with pytest.raises(ExecutionNotFoundError):
        changes(api, execution_id, org=str(uuid.uuid4()))
    exec_system.dialer.release_phones(numbers)


def test_threshold_pause_and_completion_land_once(exec_system, api, db):
    program = make_program(exec_system, n=4, max_concurrent=1,
                           rules=[{"nodeId": "welcome", "threshold": 2, "resetOnResume": True}])
    execution_id = launch(api, program)
    paused = wait_status(api, execution_id, "paused_threshold")
    assert paused.pause_reason.kind == "threshold"
    assert (paused.pause_reason.rule.node_id, paused.pause_reason.rule.count,
            paused.pause_reason.rule.threshold) == ("welcome", 2, 2)
    api.ResumeExecution(pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id))
    wait_status(api, execution_id, "paused_threshold")
    api.ResumeExecution(pb.ResumeExecutionRequest(organization_id=ORG, execution_id=execution_id))
    done = wait_status(api, execution_id, "completed")
    assert not done.HasField("pause_reason")
    assert logged(db, execution_id) == [
        (None, "running"), ("running", "paused_threshold"), ("paused_threshold", "running"),
        ("running", "paused_threshold"), ("paused_threshold", "running"), ("running", "completed")]
    final = changes(api, execution_id)[-1]
    assert final.execution.contacts_completed == 4 and final.execution.actual_end_at


def test_credit_pause_and_scheduled_start_and_stop_land_once(exec_system, api, db):
    dialer = exec_system.dialer
    program = make_program(exec_system, n=2, max_concurrent=1)
    execution_id = launch(api, program)
    dialer.reject[execution_id] = "no_credits"
    paused = wait_status(api, execution_id, "paused_no_credits")
    assert paused.pause_reason.kind == "credits" and not paused.pause_reason.HasField("rule")
    del dialer.reject[execution_id]
    assert logged(db, execution_id) == [(None, "running"), ("running", "paused_no_credits")]

    numbers = phones(2)
    dialer.hold_phones.update(numbers)
    scheduled = make_program(exec_system, phones=numbers, max_concurrent=1, start_in=timedelta(minutes=1),
                             stop_in=timedelta(minutes=3))
    later = launch(api, scheduled)
    wait_status(api, later, "stopped")
    assert logged(db, later) == [(None, "scheduled"), ("scheduled", "running"), ("running", "stopped")]
    dialer.release_phones(numbers)


def test_manual_pause_reason(exec_system, api):
    numbers = phones(2)
    exec_system.dialer.hold_phones.update(numbers)
    execution_id = launch(api, make_program(exec_system, phones=numbers, max_concurrent=1))
    paused = api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert paused.pause_reason.kind == "manual"
    assert not get(api, execution_id).HasField("held_by")
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    exec_system.dialer.release_phones(numbers)


async def _published(nats_url: str, execution_ids: set[str], expected: int):
    """Every execution.status_changed message of these executions in the stream: (msg id, message)."""
    nc = await jetstream.connect(nats_url, "status-change-reader")
    try:
        js = nc.jetstream()
        sub = await js.subscribe("execution.status_changed", ordered_consumer=True)
        out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG_GUARD_SECONDS
        while loop.time() < deadline:
            try:
                msg = await sub.next_msg(timeout=2)
            except TimeoutError:
                if len(out) >= expected:
                    break
                continue
            message = events_pb2.ExecutionStatusChanged.FromString(msg.data)
            if message.execution_id in execution_ids:
                out.append((msg.header.get("Nats-Msg-Id"), message))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


def test_publisher_publishes_each_change_once_with_its_seq(exec_system, api, db):
    numbers = phones(2)
    exec_system.dialer.hold_phones.update(numbers)
    execution_id = launch(api, make_program(exec_system, phones=numbers, max_concurrent=1))
    api.PauseExecution(pb.PauseExecutionRequest(organization_id=ORG, execution_id=execution_id))
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    exec_system.dialer.release_phones(numbers)
    wait_until(lambda: db.execute("SELECT bool_and(published AND published_at IS NOT NULL) "
                                  "FROM execution_status_changes WHERE execution_id = %s",
                                  (execution_id,)).fetchone()[0], message="changes published")
    logged_seqs = [r[0] for r in db.execute("SELECT seq FROM execution_status_changes WHERE execution_id = %s "
                                            "ORDER BY seq", (execution_id,)).fetchall()]
    got = asyncio.run(_published(exec_system.nats_url, {execution_id}, 3))
    assert sorted(m.seq for _, m in got) == logged_seqs  # each once
    assert all(msg_id == f"execution.status_changed:{m.seq}" for msg_id, m in got)
    assert [(m.previous_status, m.status) for _, m in sorted(got, key=lambda g: g[1].seq)] == [
        ("", "running"), ("running", "paused"), ("paused", "cancelled")]
    last = max(got, key=lambda g: g[1].seq)[1]
    assert (last.organization_id, last.program_id, last.execution.id) == (ORG, last.execution.program_id,
                                                                          execution_id)
    assert last.execution.status == "cancelled" and last.occurred_at == last.execution.updated_at


def test_held_by_a_pause_window_until_it_ends(exec_system, api):
    now = exec_system.clock.now()
    end = now + timedelta(hours=2)
    follow = end + timedelta(hours=1)
    program = make_program(exec_system, n=1, pause_windows={"advanced": [
        {"startAt": iso(now - timedelta(minutes=1)), "endAt": iso(end)},
        {"startAt": iso(end), "endAt": iso(follow)}]})  # runs into the next one: held until that ends
    execution_id = launch(api, program)
    held = get(api, execution_id)
    assert held.status == "running" and not held.HasField("pause_reason")
    assert held.held_by.kind == "pause_window" and held.held_by.until == iso(follow)
    listed = api.ListExecutions(pb.ListExecutionsRequest(organization_id=ORG, program_id=program.id))
    assert not listed.executions[0].HasField("held_by")  # GetExecution only
    api.CancelExecution(pb.CancelExecutionRequest(organization_id=ORG, execution_id=execution_id))
    assert not get(api, execution_id).HasField("held_by")
