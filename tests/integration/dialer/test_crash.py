"""A dialer killed or stalled mid-call: the call is recorded as unknown and never placed a second
time; a stalled dialer that comes back replaces unknown with the call's real result."""

from __future__ import annotations

import signal
import uuid

import psycopg
import pytest

from tests.integration.dialer.helpers import Bus, Stubs, dial_request

SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 6000, "digits": []},
             # 2 s real at 600x: over by the time a stalled dialer comes back.
             "rules": [{"match": "^\\+2126222", "outcomes": ["answered"], "talkSeconds": 1200}]}


@pytest.fixture(scope="module")
def dialer(system_factory):
    system = system_factory(services=["account", "dialer"], gateway=False, sim_rules=SIM_RULES, clock_speed=600,
                            replicas={"dialer": 2},
                            extra_env={"DIALER_CALL_LEASE_SECONDS": "2", "DIALER_UNKNOWN_SETTLE_SECONDS": "3"})
    stubs = Stubs(system)
    yield system, stubs
    stubs.close()


async def test_call_of_a_killed_dialer_ends_unknown_and_is_not_placed_again(dialer):
    system, stubs = dialer
    org = stubs.org(credits=100)
    flow = stubs.flow(org)
    did = stubs.did(f"+21252{uuid.uuid4().int % 10**7:07d}", org=org)
    request = dial_request(org, flow, [did], "+212611111111")
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        # The call (10 s real) is under way once its credit is reserved.
        await bus.wait_for(lambda: stubs.credits(org).reserved == 1, what="the reservation")
        instance = owner_instance(system, request.attempt_id)
        system.group.stop(system.group.find("dialer", instance), sig=signal.SIGKILL)
        system.group.start("dialer", instance)
        system.group.wait_healthy()
        result = await bus.one(request.attempt_id, timeout=60)
        assert (result.outcome, result.reason, result.talk_seconds) == ("unknown", "dialer_lost", 0)
        # The reservation waits for a real result that cannot come, then is released free.
        await bus.wait_for(lambda: stubs.credits(org).reserved == 0, what="the reservation released")
    [call] = stubs.calls(org, request.execution_id)
    assert call.outcome == "unknown"
    assert all(r.outcome == "unknown" for r in bus.of(request.attempt_id))
    credits = stubs.credits(org)
    assert (credits.balance, credits.reserved) == (100, 0)


async def test_stalled_dialer_comes_back_and_its_real_result_replaces_unknown(dialer):
    system, stubs = dialer
    org = stubs.org(credits=1000)
    flow = stubs.flow(org)
    did = stubs.did(f"+21252{uuid.uuid4().int % 10**7:07d}", org=org)
    request = dial_request(org, flow, [did], "+212622200001")
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        await bus.wait_for(lambda: stubs.credits(org).reserved == 1, what="the reservation")
        proc = system.group.find("dialer", owner_instance(system, request.attempt_id))
        proc.popen.send_signal(signal.SIGSTOP)
        try:
            # The other replica's sweeper finds the lease run out: fate unknown.
            lost = await bus.one(request.attempt_id, timeout=30)
            assert (lost.outcome, lost.reason) == ("unknown", "dialer_lost")
        finally:
            proc.popen.send_signal(signal.SIGCONT)
        # The call has ended meanwhile; its dialer stores and publishes what really happened.
        late = await bus.wait_for(lambda: [r for r in bus.of(request.attempt_id) if r.outcome == "answered"],
                                  timeout=60, what="the real result")
        assert len(late) == 1 and late[0].reason == "late_result" and late[0].talk_seconds == 1200
        charged = await bus.wait_for(lambda: (c := stubs.credits(org)).reserved == 0 and c, what="the settlement")
    [call] = stubs.calls(org, request.execution_id)
    assert call.outcome == "answered"
    assert charged.balance == 1000 - 20, "the late answered call is charged (20 started minutes)"


def owner_instance(system, attempt_id: str) -> int:
    """Which dialer replica holds the attempt (its record's owner names the process id)."""
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        owner = conn.execute("SELECT owner FROM dialer.call_records WHERE attempt_id = %s", (attempt_id,)).fetchone()[0]
    pid = int(owner.split(":")[1])
    return next(i for i in range(2) if system.group.find("dialer", i).popen.pid == pid)
