"""The far end's SIP status and Q.850 cause travel from the carrier's answer to the call record, the
call.completed event and ListCalls; a carrier that does not say leaves them absent.

The placement runs in this process with a carrier of our own that answers fixed outcomes (the far
end is not what is tested here); PostgreSQL, Redis, NATS, the account service and the dialer
process serving ListCalls are real."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from kernel import paging
from kernel.clock import get_clock
from kernel.db import create_engine
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.adapters.carrier import CallOutcome, CallRequest, Carrier
from services.dialer.adapters.peers import Accounts
from services.dialer.domain.attempts import NewAttempt
from services.dialer.placement import ACK
from tests.integration.dialer.helpers import Bus, dial_request, dialer_system, in_process_placement, new_world

BUSY_WITH_CAUSE = "+212600000486"


class FixedCarrier(Carrier):
    """Busy with SIP 486 / Q.850 17 for BUSY_WITH_CAUSE; any other number is answered without codes."""

    async def place(self, call: CallRequest) -> CallOutcome:
        started = get_clock().now()
        ended = started + timedelta(seconds=3)
        if call.phone == BUSY_WITH_CAUSE:
            return CallOutcome("busy", started, None, ended, 0, [], sip_code=486, q850_cause=17)
        return CallOutcome("answered", started, started, ended, 3, [])


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, {"default": {"outcomes": ["answered"]}}, 5)


@pytest.fixture
def world(dialer):
    return new_world(dialer)


async def test_sip_code_and_q850_cause_are_stored_published_and_listed(world):
    system, stubs, org, flow, did = world
    engine = create_engine(system.database_url, "dialer", pool_size=2)
    redis = Redis.from_url(system.redis_url)
    with system.acting_as("dialer"):  # its certificate, when mTLS is on
        accounts = Accounts(system.env["ACCOUNT_ADDR"])
    execution = str(uuid.uuid4())
    busy = dial_request(org, flow, [did], BUSY_WITH_CAUSE, execution_id=execution)
    plain = dial_request(org, flow, [did], "+212600000777", execution_id=execution)
    try:
        async with Bus(system.nats_url, system.redis_url) as bus:
            placement = in_process_placement(engine, redis, accounts, bus, FixedCarrier())
            for seq, request in enumerate((busy, plain), start=1):
                await bus.gate(execution, True)
                assert await placement.handle(request, stream_seq=seq) == ACK
            busy_event = await bus.one(busy.attempt_id)
            plain_event = await bus.one(plain.attempt_id)
    finally:
        await accounts.close()
        await redis.aclose()
        await engine.dispose()

    assert (busy_event.outcome, busy_event.sip_code, busy_event.q850_cause) == ("busy", 486, 17)
    assert plain_event.outcome == "answered"
    assert not plain_event.HasField("sip_code") and not plain_event.HasField("q850_cause")

    listed = {c.attempt_id: c for c in stubs.calls(org, execution)}
    assert set(listed) == {busy.attempt_id, plain.attempt_id}
    busy_call, plain_call = listed[busy.attempt_id], listed[plain.attempt_id]
    assert (busy_call.outcome, busy_call.sip_code, busy_call.q850_cause) == ("busy", 486, 17)
    assert busy_call.HasField("sip_code") and busy_call.HasField("q850_cause")
    assert not plain_call.HasField("sip_code") and not plain_call.HasField("q850_cause")


async def test_a_result_stored_over_an_unknown_call_keeps_its_codes(world):
    """The finish that reads the row back (no placing record at hand) returns the codes too."""
    system, _, org, _, _ = world
    engine = create_engine(system.database_url, "dialer", pool_size=2)
    calls = CallRepository(engine)
    now = get_clock().now()
    attempt = NewAttempt(f"{uuid.uuid4()}:c-1:1", str(uuid.uuid4()), org, "c-1", "+212600000404", 1)
    try:
        await calls.claim(attempt, "owner-a", 60, 1, now)
        assert await calls.mark_placing(attempt.attempt_id, "owner-a", str(uuid.uuid4()), "+212520000001",
                                        attempt.attempt_id, now)
        finished = await calls.finish(attempt.attempt_id, "owner-a", "invalid_number", now, None,
                                      now + timedelta(seconds=1), 0, [], sip_code=404, q850_cause=1)
        [listed] = await calls.list_calls(org, attempt.execution_id,
                                          paging.request(10, "", paging.instant, paging.identifier))
    finally:
        await engine.dispose()
    assert finished is not None
    assert (finished.outcome, finished.sip_code, finished.q850_cause) == ("invalid_number", 404, 1)
    assert (listed.outcome, listed.sip_code, listed.q850_cause) == ("invalid_number", 404, 1)
