"""A dialer killed or stalled mid-call: the call is recorded as unknown and never placed a second
time; a stalled dialer that comes back replaces unknown with the call's real result."""

from __future__ import annotations

import asyncio
import signal
import uuid

import psycopg
import pytest

from kernel import db
from services.dialer.adapters.call_repository import CallRepository, NewAttempt
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


async def test_owner_that_never_reached_the_carrier_corrects_unknown_to_not_placed(dialer):
    """A dialer stalled after making its record placing but before the carrier: another declares
    the call unknown; when it comes back its last check refuses the call, and the record says
    what is true — not placed, nothing started — so the execution can give the attempt back."""
    system, _ = dialer
    engine = db.create_engine(system.database_url, "dialer", pool_size=2)
    try:
        calls = CallRepository(engine)
        attempt = NewAttempt(f"{uuid.uuid4()}:c:1", str(uuid.uuid4()), str(uuid.uuid4()), "c", "+212600000009", 1)
        now = system.now()
        claim = await calls.claim(attempt, "dialer-a", 0.1, 1, now)
        assert claim.kind == "place"
        assert await calls.mark_placing(attempt.attempt_id, "dialer-a", str(uuid.uuid4()), "+212500000001",
                                        attempt.attempt_id, now)
        await asyncio.sleep(0.3)  # the lease runs out
        lost = [r for r in await calls.finish_abandoned(now) if r.attempt_id == attempt.attempt_id]
        assert [(r.outcome, r.reason) for r in lost] == [("unknown", "dialer_lost")]
        assert await calls.reject(attempt.attempt_id, "dialer-b", "deadline_passed", 2, now, "not_placed") is None, \
            "only the owner knows the call never started"
        record = await calls.reject(attempt.attempt_id, "dialer-a", "deadline_passed", 2, now, "not_placed")
        assert (record.state, record.outcome, record.started_at) == ("rejected", "not_placed", None)
    finally:
        await engine.dispose()
