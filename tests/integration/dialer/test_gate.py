"""The dialer starts no call through a closed execution gate or past a request's deadline: it
answers call.not_placed, takes no DID slot, reserves no credit, and the attempt id can be
placed later when it is requested again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest

from kernel.timefmt import iso
from tests.integration.dialer.helpers import Bus, dial_request, dialer_system, new_world

# 600x: a 600 virtual-second call lasts one real second.
SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 600, "digits": []}}
DID_CAP = 1


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, SIM_RULES, DID_CAP)


@pytest.fixture
def world(dialer):
    return new_world(dialer)


def placing(system, attempt_id: str) -> bool:
    """The call is with the carrier: past the dialer's last check of the gate."""
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        row = conn.execute("SELECT state FROM dialer.call_records WHERE attempt_id = %s", (attempt_id,)).fetchone()
    return row is not None and row[0] in ("placing", "finished")


def phone() -> str:
    return f"+2126{uuid.uuid4().int % 10**8:08d}"


async def test_closed_gate_places_no_call_and_the_attempt_can_be_placed_later(world):
    system, stubs, org, flow, did = world
    request = dial_request(org, flow, [did], phone())
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.gate(request.execution_id, False, version=2)
        await bus.dial(request, open_gate=False)
        refused = await bus.one(request.attempt_id, "call.not_placed")
        assert (refused.outcome, refused.reason) == ("not_placed", "execution_not_running")
        assert stubs.credits(org).reserved == 0
        assert stubs.calls(org, request.execution_id) == []
        # An open older than the close is refused by the gate's version; a newer one opens it.
        await bus.gate(request.execution_id, True, version=3)
        await bus.dial(request, msg_id=f"{request.attempt_id}:again", open_gate=False)
        placed = await bus.one(request.attempt_id, "call.completed")
    assert placed.outcome == "answered" and placed.attempt_id == request.attempt_id
    [call] = stubs.calls(org, request.execution_id)
    assert call.outcome == "answered"


async def test_request_past_its_deadline_is_not_placed(world):
    system, stubs, org, flow, did = world
    request = dial_request(org, flow, [did], phone())
    request.not_after = iso(system.now() - timedelta(seconds=1))
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        refused = await bus.one(request.attempt_id, "call.not_placed")
    assert (refused.outcome, refused.reason) == ("not_placed", "deadline_passed")
    assert refused.started_at == ""
    assert stubs.calls(org, request.execution_id) == []


async def test_request_waiting_for_a_did_slot_does_not_start_once_the_gate_closes(world):
    system, stubs, org, flow, did = world
    # The first call must be past its last check of the gate when the gate closes. That check is
    # one Redis read after the record turns `placing`, so on a loaded machine the close can still
    # land before it: the first call is then rightly not placed, and the case is set up again.
    for _ in range(5):
        execution = str(uuid.uuid4())
        first = dial_request(org, flow, [did], phone(), execution_id=execution)
        waiting = dial_request(org, flow, [did], phone(), execution_id=execution)
        async with Bus(system.nats_url, system.redis_url) as bus:
            await bus.dial(first)
            await bus.wait_for(lambda a=first.attempt_id: placing(system, a), what="the first call under way")
            await bus.dial(waiting)  # the DID's only slot is taken: it waits (nak, redelivery)
            await bus.gate(execution, False, version=2)
            refused = await bus.one(waiting.attempt_id, "call.not_placed")
            assert refused.reason == "execution_not_running"
            ended = await bus.wait_for(lambda a=first.attempt_id: bus.of(a), what="the first call's end")
        if ended[0].outcome == "not_placed":
            continue
        assert ended[0].outcome == "answered", "a call already started finishes"
        assert [c.attempt_id for c in stubs.calls(org, execution)] == [first.attempt_id]
        return
    pytest.fail("the gate closed before the first call's last check five times")
