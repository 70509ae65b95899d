"""Dispatch keeps the queue in front of the dialers short: requests no dialer has taken stay
under DISPATCH_BACKLOG_LIMIT, so a slow or absent dialer cannot make every request expire."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kernel import jetstream
from outbound.execution.v1 import execution_pb2 as pb
from tests.integration.execution.conftest import ORG, Api, make_program
from tests.integration.execution.fakes import Peers, ScriptedDialer, World
from tests.support.system import wait_progressing, wait_until

LIMIT = 25
CONSUMER = "late-dialer"


async def _consumer_pending(nats_url: str, create: bool = False) -> int:
    nc = await jetstream.connect(nats_url, "backlog-probe")
    try:
        js = nc.jetstream()
        if create:
            await jetstream.ensure_streams(js)
            # The consumer the late dialer will use, as the kernel helper creates it: nobody fetches yet.
            await js.add_consumer(jetstream.DIAL_STREAM, ConsumerConfig(
                durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                ack_wait=60.0, max_deliver=20, filter_subject="dial.requested", max_ack_pending=4000))
        info = await js.consumer_info(jetstream.DIAL_STREAM, CONSUMER)
        return int(info.num_pending or 0)
    finally:
        await nc.close()


@pytest.fixture(scope="module")
def late_system(system_factory):
    world = World()
    peers = Peers(world).start()
    system = system_factory(services=["execution"], gateway=False, clock_speed=60,
                            extra_env={**peers.addresses, "DISPATCH_BACKLOG_LIMIT": str(LIMIT),
                                       "DIAL_CONSUMER": CONSUMER})
    system.world = world
    asyncio.run(_consumer_pending(system.nats_url, create=True))
    yield system
    peers.stop()


def test_requests_wait_in_the_database_while_no_dialer_takes_them(late_system):
    api = Api(late_system)
    program = make_program(late_system, n=300, max_concurrent=1000)
    execution_id = api.LaunchProgram(pb.LaunchProgramRequest(organization_id=ORG, program_id=program.id)).execution_id

    def execution() -> pb.Execution:
        return api.GetExecution(pb.GetExecutionRequest(organization_id=ORG, execution_id=execution_id))

    # Nobody takes the requests: dispatch fills the queue up to the limit and stops there.
    wait_until(lambda: execution().contacts_in_progress >= LIMIT, message="dispatch up to the backlog limit")
    for _ in range(10):  # many orchestrator ticks (0.2 s each)
        assert asyncio.run(_consumer_pending(late_system.nats_url)) <= LIMIT
        ex = execution()
        assert ex.contacts_in_progress == LIMIT and ex.contacts_pending == 300 - LIMIT, ex
        asyncio.run(asyncio.sleep(0.3))

    # A dialer arrives and answers: the campaign runs to its end, the queue never above the limit.
    dialer = ScriptedDialer(late_system.nats_url, late_system.clock, durable=CONSUMER).start()
    try:
        peak = [0]

        def completed_with_short_queue() -> pb.Execution:
            peak[0] = max(peak[0], asyncio.run(_consumer_pending(late_system.nats_url)))
            return execution()

        done = wait_progressing(completed_with_short_queue, lambda e: e.status == "completed",
                                lambda e: (e.status, e.contacts_completed, e.contacts_in_progress),
                                message="completed")
        assert (done.contacts_completed, done.contacts_pending, done.contacts_in_progress) == (300, 0, 0)
        assert peak[0] <= LIMIT
        assert len({r.attempt_id for r, _ in dialer.requests}) == 300
    finally:
        dialer.stop()
        api.channel.close()
