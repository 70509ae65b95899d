"""A carrier that waits before the call starts (trunk room, a free line) asks the placement's last
check right before the INVITE; a call whose execution was paused meanwhile, or whose dialer is
stopping, is recorded not placed and costs neither an attempt nor a credit.

The placement runs in this process with a carrier of our own that waits on the test's signal (the
far end is not what is tested here); PostgreSQL, Redis, NATS and the account service are real."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from kernel.clock import get_clock
from kernel.db import create_engine
from services.dialer.adapters.carrier import CallNotPlaced, CallOutcome, CallRequest, Carrier
from services.dialer.adapters.peers import Accounts
from services.dialer.placement import ACK
from tests.integration.dialer.helpers import (
    Bus,
    dial_request,
    dialer_system,
    in_process_placement,
    new_world,
    settled,
)


class WaitingCarrier(Carrier):
    """Waits for `room`, then asks the last check; places (answers) only when it says go."""

    def __init__(self) -> None:
        self.room = asyncio.Event()
        self.waiting = asyncio.Event()
        self.placed: list[str] = []

    async def place(self, call: CallRequest) -> CallOutcome:
        self.waiting.set()
        await self.room.wait()
        reason = await call.may_start() if call.may_start is not None else ""
        if reason:
            raise CallNotPlaced(reason)
        self.placed.append(call.attempt_id)
        started = get_clock().now()
        return CallOutcome("answered", started, started, started + timedelta(seconds=3), 3, [])


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, {"default": {"outcomes": ["answered"]}}, 5)


@pytest.fixture
def world(dialer):
    return new_world(dialer)


@pytest.mark.parametrize("pause", [True, False], ids=["paused while waiting", "still running"])
async def test_the_last_check_runs_after_the_carriers_wait(world, pause):
    system, stubs, org, flow, did = world
    engine = create_engine(system.database_url, "dialer", pool_size=2)
    redis = Redis.from_url(system.redis_url)
    with system.acting_as("dialer"):  # its certificate, when mTLS is on
        accounts = Accounts(system.env["ACCOUNT_ADDR"])
    execution = str(uuid.uuid4())
    request = dial_request(org, flow, [did], "+212600000321", execution_id=execution)
    carrier = WaitingCarrier()
    balance_before = stubs.credits(org).balance
    try:
        async with Bus(system.nats_url, system.redis_url) as bus:
            placement = in_process_placement(engine, redis, accounts, bus, carrier)
            await bus.gate(execution, True)
            handling = asyncio.create_task(placement.handle(request, stream_seq=1))
            await asyncio.wait_for(carrier.waiting.wait(), 30)
            if pause:
                await bus.gate(execution, False, version=2)  # the execution is paused meanwhile
            carrier.room.set()
            assert await asyncio.wait_for(handling, 30) == ACK
            subject = "call.not_placed" if pause else "call.completed"
            result = await bus.one(request.attempt_id, subject)
    finally:
        await accounts.close()
        await redis.aclose()
        await engine.dispose()
    if pause:
        assert carrier.placed == []
        assert (result.outcome, result.reason) == ("not_placed", "execution_not_running")
    else:
        assert carrier.placed == [request.attempt_id]
        assert result.outcome == "answered"
    # Not placed costs nothing; the call placed is charged its minute.
    after = await settled(stubs, org)
    assert (after.reserved, after.balance) == (0, balance_before - (0 if pause else 1))
