"""The execution service with a program that handles answering machines, against real PostgreSQL and
NATS: the launch snapshots the setting, and a voicemail result completes its contact only when it
says the message left reached it (`reached`); other voicemails are retried as the strategy says."""

from __future__ import annotations

import psycopg
import pytest

from kernel import jetstream
from kernel.timefmt import iso
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import execution_pb2 as pb
from outbound.program.v1 import program_pb2
from tests.integration.execution.conftest import ORG, Api, make_program
from tests.integration.execution.fakes import Peers, ScriptedDialer, World
from tests.support.system import wait_progressing

COUNTERS = ("contacts_completed", "contacts_failed", "contacts_pending", "contacts_in_progress", "contacts_skipped")
LEAVE_REACHES = program_pb2.AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="vm",
                                             count_as_reached=True)


class VoicemailDialer(ScriptedDialer):
    """Every call reaches a machine that is left the message; the numbers in `reached` report it
    as reaching the contact, as the dialer does under countAsReached."""

    def __init__(self, nats_url: str, clock):
        super().__init__(nats_url, clock, durable="voicemail-dialer")
        self.reached: set[str] = set()

    async def _answer(self, request) -> None:
        now = iso(self.clock.now())
        result = dialer_events.CallResult(
            attempt_id=request.attempt_id, execution_id=request.execution_id,
            organization_id=request.organization_id, contact_id=request.contact_id, attempt=request.attempt,
            outcome="voicemail", did_id=request.did_pool[0], started_at=now, answered_at=now, ended_at=now,
            node_ids=["vm", "bye"], reached=request.phone in self.reached)
        await jetstream.publish(self.js, "call.completed", result.SerializeToString(),
                                f"call.completed:{request.attempt_id}")


@pytest.fixture(scope="module")
def vm_system(system_factory):
    world = World()
    peers = Peers(world).start()
    system = system_factory(services=["execution"], gateway=False, clock_speed=60,
                            extra_env={**peers.addresses, "LEASE_SECONDS": "3"})
    dialer = VoicemailDialer(system.nats_url, system.clock).start()
    system.peers, system.dialer, system.world = peers, dialer, world
    yield system
    dialer.stop()
    peers.stop()


@pytest.fixture(scope="module")
def api(vm_system):
    client = Api(vm_system)
    yield client
    client.channel.close()


def test_a_message_left_that_counts_completes_and_the_others_are_retried(vm_system, api):
    reached, retried = "+212655000001", "+212655000002"
    vm_system.dialer.reached.add(reached)
    program = make_program(vm_system, phones=[reached, retried],
                           retry={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 1})
    program.answering_machine.CopyFrom(LEAVE_REACHES)
    execution_id = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id
    done = wait_progressing(
        lambda: api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=execution_id)),
        lambda e: e.status == "completed", lambda e: (e.status, *(getattr(e, c) for c in COUNTERS)),
        message="completed")
    assert (done.contacts_completed, done.contacts_failed) == (1, 1)
    with psycopg.connect(vm_system.database_url, autocommit=True, options="-csearch_path=execution") as conn:
        rows = dict(conn.execute("SELECT phone, (state, attempt, last_outcome)::text FROM execution_contacts "
                                 "WHERE execution_id = %s", (execution_id,)).fetchall())
        [snapshot] = conn.execute("SELECT answering_machine FROM executions WHERE id = %s",
                                  (execution_id,)).fetchone()
    assert rows == {reached: "(completed,1,voicemail)", retried: "(failed,2,voicemail)"}
    assert snapshot == {"detect": True, "onMachine": "leave_message", "messageNodeId": "vm", "countAsReached": True}
    # Retried once, after its delay: two requests for the number not reached, one for the other.
    requests = [r for r, _ in vm_system.dialer.requests_for(execution_id)]
    assert sorted(r.phone for r in requests) == sorted([reached, retried, retried])


def test_each_dial_request_carries_the_snapshot(vm_system, api):
    program = make_program(vm_system, n=2)
    program.answering_machine.CopyFrom(LEAVE_REACHES)
    plain = make_program(vm_system, n=1)
    with_setting = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id
    without = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=plain.id)).execution_id
    # Edited after the launch: the execution keeps what it was launched with.
    program.answering_machine.CopyFrom(program_pb2.AnsweringMachine(detect=True, on_machine="hangup"))
    for execution_id in (with_setting, without):
        wait_progressing(
            lambda e=execution_id: api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=e)),
            lambda e: e.status == "completed", lambda e: (e.status, *(getattr(e, c) for c in COUNTERS)),
            message="completed")
    requests = [r for r, _ in vm_system.dialer.requests_for(with_setting)]
    assert len(requests) == 2 and all(r.answering_machine == LEAVE_REACHES for r in requests)
    assert not any(r.HasField("answering_machine") for r, _ in vm_system.dialer.requests_for(without))
