"""DID slots in a real Redis: the batched gate-turn-and-acquire script follows the domain's
reference choice (round-robin from the group's turn, first DID under its cap), call after call,
and takes nothing, not even a turn, for an execution whose call gate is closed."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from redis.asyncio import Redis

from kernel import call_gate
from services.dialer.adapters.did_slots import DidSlots, GateClosed, GateUnreadable
from services.dialer.domain.did_choice import DidInfo, choose_did


@pytest.fixture
async def slots(infra):
    url, _ = infra.new_redis()
    redis = Redis.from_url(url)
    yield DidSlots(redis, lease_seconds=60)
    await redis.aclose()


async def test_turn_and_acquire_match_the_reference_choice(slots: DidSlots):
    rng = random.Random(7)
    for _ in range(5):
        execution = str(uuid.uuid4())
        await slots.redis.set(call_gate.key(execution), call_gate.value(1, True))
        pool = [DidInfo(str(uuid.uuid4()), f"+21252{i:07d}", "MA", True, False) for i in range(rng.randint(1, 5))]
        cap = rng.randint(1, 3)
        in_use: dict[str, int] = {}
        held: list[tuple[str, str]] = []
        turn = 0
        for _ in range(40):
            if held and rng.random() < 0.4:
                did_id, member = held.pop(rng.randrange(len(held)))
                await slots.release(did_id, member)
                in_use[did_id] -= 1
                continue
            # Several calls at once share one script run; each still gets its own turn, in order.
            members = [str(uuid.uuid4()) for _ in range(rng.randint(1, 3))]
            got = await asyncio.gather(*(slots.acquire_in_turn(execution, "MA", [d.id for d in pool], m, cap)
                                         for m in members))
            for member, did_id in zip(members, got, strict=True):
                expected = choose_did(pool, "MA", turn, in_use, cap)
                turn += 1
                assert did_id == (expected.id if expected else None)
                if did_id:
                    in_use[did_id] = in_use.get(did_id, 0) + 1
                    held.append((did_id, member))
            assert [await slots.in_use(d.id) for d in pool] == [in_use.get(d.id, 0) for d in pool]


async def test_a_closed_gate_takes_no_slot_and_no_turn(slots: DidSlots):
    execution = str(uuid.uuid4())
    pool = [str(uuid.uuid4()), str(uuid.uuid4())]
    # Missing, then closed: both refuse; a mixed batch answers each call for its own execution.
    with pytest.raises(GateClosed):
        await slots.acquire_in_turn(execution, "MA", pool, "a", 5)
    await slots.redis.set(call_gate.key(execution), call_gate.value(3, False))
    other = str(uuid.uuid4())
    await slots.redis.set(call_gate.key(other), call_gate.value(1, True))
    got = await asyncio.gather(slots.acquire_in_turn(execution, "MA", pool, "b", 5),
                               slots.acquire_in_turn(other, "MA", pool, "c", 5), return_exceptions=True)
    assert isinstance(got[0], GateClosed) and got[1] == pool[0]
    assert [await slots.in_use(d) for d in pool] == [1, 0]
    assert await slots.redis.get(f"dialer:rr:{execution}:MA") is None, "no turn taken behind a closed gate"
    assert not await slots.gate_open(execution) and await slots.gate_open(other)


async def test_a_gate_redis_cannot_read_is_unreadable_not_an_error_of_the_call(infra):
    """The last read before the carrier fails closed: the placement answers not_placed
    (gate_unreadable) instead of leaving a `placing` record to become unknown."""
    url, server = infra.new_redis(own=True)
    redis = Redis.from_url(url)
    slots = DidSlots(redis, lease_seconds=60)
    execution = str(uuid.uuid4())
    await redis.set(call_gate.key(execution), call_gate.value(1, True))
    assert await slots.gate_open(execution) is True
    server.stop()
    with pytest.raises(GateUnreadable):
        await slots.gate_open(execution)
    await redis.aclose()
