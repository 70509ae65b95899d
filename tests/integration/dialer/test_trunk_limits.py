"""Trunk limits in a real Redis, asked by two replicas (two connections): maxConcurrentCalls and
maxCallsPerSecond hold across both, a refused call takes nothing, and slots come back on release
or when their lease ends."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from services.dialer.adapters.trunk_limits import TrunkLimits
from services.dialer.domain.trunks import Trunk


@pytest.fixture
async def replicas(infra):
    url, _ = infra.new_redis()
    first, second = Redis.from_url(url), Redis.from_url(url)
    yield TrunkLimits(first), TrunkLimits(second)
    await first.aclose()
    await second.aclose()


def trunk(cps: int, concurrent: int) -> Trunk:
    # A fresh name per test: the Redis server is shared by the session.
    return Trunk(f"t-{uuid.uuid4()}", "192.0.2.1", 5060, "udp", None, None, cps, concurrent, None)


async def test_concurrent_calls_are_capped_across_replicas(replicas):
    a, b = replicas
    t = trunk(cps=1000, concurrent=3)
    calls = [f"c{i}" for i in range(12)]
    got = await asyncio.gather(*((a if i % 2 else b).acquire(t, c, 60) for i, c in enumerate(calls)))
    held = [c for c, ok in zip(calls, got, strict=True) if ok]
    assert len(held) == 3 and await a.in_use(t) == 3 == await b.in_use(t)
    assert not await a.acquire(t, "late", 60)
    # Asking again while holding keeps the one slot.
    assert await b.acquire(t, held[0], 60) and await a.in_use(t) == 3
    await b.release(t, held[1])
    assert await a.acquire(t, "late", 60)
    assert not await b.acquire(t, "later", 60)


async def test_calls_per_second_are_capped_across_replicas(replicas):
    a, b = replicas
    t = trunk(cps=5, concurrent=100)
    got = await asyncio.gather(*((a if i % 2 else b).acquire(t, f"c{i}", 60) for i in range(20)))
    assert sum(got) == 5
    # Refused for the rate, nothing was taken: only the 5 hold slots.
    assert await a.in_use(t) == 5
    # Releasing does not give back a start of the last second.
    await a.release(t, next(f"c{i}" for i, ok in enumerate(got) if ok))
    assert not await b.acquire(t, "again", 60)
    await asyncio.sleep(1.05)
    assert await b.acquire(t, "again", 60)


async def test_a_call_refused_for_concurrency_counts_no_start(replicas):
    a, b = replicas
    t = trunk(cps=2, concurrent=1)
    assert await a.acquire(t, "first", 60)
    assert not await b.acquire(t, "second", 60)  # no room: must not use the second start
    await a.release(t, "first")
    assert await b.acquire(t, "third", 60)
    assert not await a.acquire(t, "fourth", 60)


async def test_an_expired_lease_frees_its_slot_and_renew_keeps_it(replicas):
    a, b = replicas
    t = trunk(cps=1000, concurrent=1)
    assert await a.acquire(t, "dead", 0.2)  # its dialer dies: nobody renews
    assert not await b.acquire(t, "waiting", 60)
    await asyncio.sleep(0.3)
    assert await b.in_use(t) == 0
    assert await b.acquire(t, "waiting", 0.3)
    assert await b.renew(t, "waiting", 5)
    await asyncio.sleep(0.4)
    assert not await a.acquire(t, "other", 60), "a renewed lease still holds the slot"
    await b.release(t, "waiting")
    assert not await b.renew(t, "waiting", 5), "a released slot cannot be renewed"
    assert await a.acquire(t, "short", 0.1)
    await asyncio.sleep(0.2)
    assert not await a.renew(t, "short", 5), "an expired lease is lost"
    assert await a.acquire(t, "other", 60)
