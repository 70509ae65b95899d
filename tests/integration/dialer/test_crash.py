"""A dialer killed or stalled mid-call: the call is recorded as unknown and never placed a second
time; a stalled dialer that comes back replaces unknown with the call's real result."""

from __future__ import annotations

import asyncio
import signal
import uuid

import psycopg
import pytest

from kernel import db
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.domain.attempts import NewAttempt
from tests.integration.dialer.helpers import Bus, Stubs, dial_request, wait_for
from tests.support.system import HANG_GUARD_SECONDS

SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 6000, "digits": []},
             "rules": [
                 # 8 s real at 600x: still talking when the test stops its dialer (one poll after
                 # the call starts), over well before the sweeper settles its unknown fate for free.
                 {"match": "^\\+2126222", "outcomes": ["answered"], "talkSeconds": 4800},
                 # 100 minutes real: a call that cannot end before the test has killed its dialer.
                 {"match": "^\\+2126111", "outcomes": ["answered"], "talkSeconds": 3_600_000}]}


@pytest.fixture(scope="module")
def dialer(system_factory):
    system = system_factory(services=["account", "dialer"], gateway=False, sim_rules=SIM_RULES, clock_speed=600,
                            replicas={"dialer": 2},
                            # A late result has 20 s to come back before an unknown call is settled
                            # free: room for a stalled dialer to wake on a busy machine.
                            extra_env={"DIALER_CALL_LEASE_SECONDS": "2", "DIALER_UNKNOWN_SETTLE_SECONDS": "20"})
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
        # The call is under way once its dialer records it placing (its credit reserved before);
        # it talks for 100 minutes, so the kill lands mid-call however slow the machine.
        owner = await bus.wait_for(lambda: placing_owner(system, request.attempt_id), timeout=HANG_GUARD_SECONDS,
                                   what="the call under way")
        assert stubs.credits(org).reserved == 1
        instance = instance_of(system, owner)
        system.group.stop(system.group.find("dialer", instance), sig=signal.SIGKILL)
        assert record_state(system, request.attempt_id) in (("placing", None), ("finished", "dialer_lost")), \
            "the dialer died before it could record any result"
        system.group.start("dialer", instance)
        system.group.wait_healthy(HANG_GUARD_SECONDS)
        result = await bus.one(request.attempt_id, timeout=HANG_GUARD_SECONDS)
        assert (result.outcome, result.reason, result.talk_seconds) == ("unknown", "dialer_lost", 0)
        # The reservation waits for a real result that cannot come, then is released free.
        await bus.wait_for(lambda: stubs.credits(org).reserved == 0, timeout=HANG_GUARD_SECONDS,
                           what="the reservation released")
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
        owner = await bus.wait_for(lambda: placing_owner(system, request.attempt_id), timeout=HANG_GUARD_SECONDS,
                                   what="the call under way")
        proc = system.group.find("dialer", instance_of(system, owner))
        proc.popen.send_signal(signal.SIGSTOP)
        try:
            assert record_state(system, request.attempt_id) in (("placing", None), ("finished", "dialer_lost")), \
                "the dialer stalled before it could record the call's result"
            # The other replica's sweeper finds the lease run out: fate unknown.
            lost = await bus.one(request.attempt_id, timeout=HANG_GUARD_SECONDS)
            assert (lost.outcome, lost.reason) == ("unknown", "dialer_lost")
        finally:
            proc.popen.send_signal(signal.SIGCONT)
        # The call ends (meanwhile or soon); its dialer stores and publishes what really happened.
        late = await bus.wait_for(lambda: [r for r in bus.of(request.attempt_id) if r.outcome == "answered"],
                                  timeout=HANG_GUARD_SECONDS, what="the real result")
        assert len(late) == 1 and late[0].reason == "late_result" and late[0].talk_seconds == 4800
        charged = await bus.wait_for(lambda: (c := stubs.credits(org)).reserved == 0 and c,
                                     timeout=HANG_GUARD_SECONDS, what="the settlement")
    [call] = stubs.calls(org, request.execution_id)
    assert call.outcome == "answered"
    assert charged.balance == 1000 - 80, "the late answered call is charged (80 started minutes)"


def placing_owner(system, attempt_id: str) -> str | None:
    """The owner of the attempt's record once its dialer has recorded the call under way (placing)."""
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT owner FROM dialer.call_records WHERE attempt_id = %s AND state = 'placing'",
                           (attempt_id,)).fetchone()
    return row[0] if row else None


def record_state(system, attempt_id: str) -> tuple[str, str | None]:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        state, reason = conn.execute("SELECT state, reason FROM dialer.call_records WHERE attempt_id = %s",
                                     (attempt_id,)).fetchone()
    return state, reason


def record_outcome(system, attempt_id: str) -> tuple[str, str | None, str | None]:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        return conn.execute("SELECT state, outcome, reason FROM dialer.call_records WHERE attempt_id = %s",
                            (attempt_id,)).fetchone()


def instance_of(system, owner: str) -> int:
    """Which dialer replica an owner is (the owner names the process id)."""
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
        # The sweeper's step. The module's live replicas sweep too (every 0.5 s) and may declare
        # the call lost first: whoever did, the record is what the owner then corrects.
        await calls.finish_abandoned(now)
        await wait_for(lambda: record_outcome(system, attempt.attempt_id) == ("finished", "unknown", "dialer_lost"),
                       what="the call declared lost")
        assert await calls.reject(attempt.attempt_id, "dialer-b", "deadline_passed", 2, now, "not_placed") is None, \
            "only the owner knows the call never started"
        record = await calls.reject(attempt.attempt_id, "dialer-a", "deadline_passed", 2, now, "not_placed")
        assert (record.state, record.outcome, record.started_at) == ("rejected", "not_placed", None)
    finally:
        await engine.dispose()
