"""A dialer killed mid-call: the call is recorded as failed, never placed a second time."""

from __future__ import annotations

import signal
import uuid

import pytest

from tests.integration.dialer.helpers import Bus, Stubs, dial_request

SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 6000, "digits": []}}


@pytest.fixture(scope="module")
def dialer(system_factory):
    system = system_factory(services=["account", "dialer"], gateway=False, sim_rules=SIM_RULES, clock_speed=600,
                            extra_env={"DIALER_CALL_LEASE_SECONDS": "2"})
    stubs = Stubs(system)
    yield system, stubs
    stubs.close()


async def test_call_of_a_killed_dialer_ends_failed_and_is_not_placed_again(dialer):
    system, stubs = dialer
    org = stubs.org(credits=100)
    flow = stubs.flow(org)
    did = stubs.did(f"+21252{uuid.uuid4().int % 10**7:07d}", org=org)
    request = dial_request(org, flow, [did], "+212611111111")
    async with Bus(system.nats_url) as bus:
        await bus.dial(request)
        # The call (10 s real) is under way once its credit is reserved.
        await bus.wait_for(lambda: stubs.credits(org).reserved == 1, what="the reservation")
        system.group.stop(system.group.find("dialer"), sig=signal.SIGKILL)
        system.group.start("dialer")
        system.group.wait_healthy()
        result = await bus.one(request.attempt_id, timeout=60)
        assert (result.outcome, result.talk_seconds) == ("failed", 0)
    [call] = stubs.calls(org, request.execution_id)
    assert call.outcome == "failed"
    assert all(r.outcome == "failed" for r in bus.of(request.attempt_id))
    credits = stubs.credits(org)
    assert (credits.balance, credits.reserved) == (100, 0)
