"""The dialers' channels as the execution service reads them, in a real Redis: the live replicas
sum, an expired announcement drops out (and is removed), a withdrawal counts at once, and no
replica or no Redis answers None."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from kernel import dial_channels
from services.dialer.adapters.capacity_beacon import CapacityBeacon
from services.execution.adapters.dial_capacity import DialCapacity
from tests.support.system import HANG_GUARD_SECONDS


@pytest.fixture(scope="module")
def redis_url(infra):
    # A server of its own: the keys are global, another test's dialers must not add to the sum.
    url, _ = infra.new_redis(own=True)
    return url


@pytest.fixture
async def redis(redis_url):
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def poll(predicate, what: str):
    """Wait for an async condition, polling; the ceiling only stops a hang."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while not await predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_no_replica_is_unknown(redis):
    assert await DialCapacity(redis).channels() is None


async def test_live_replicas_sum(redis, redis_url):
    # Each replica on its own connection, as separate processes would be.
    others = [Redis.from_url(redis_url) for _ in range(2)]
    try:
        beacons = [CapacityBeacon(redis, "a", 500), CapacityBeacon(others[0], "b", 200),
                   CapacityBeacon(others[1], "c", 4)]
        await asyncio.gather(*(b.announce() for b in beacons))
        capacity = DialCapacity(redis)
        assert await capacity.channels() == 704
        # Announcing again replaces a replica's channels, it does not add them.
        await CapacityBeacon(redis, "c", 40).announce()
        await beacons[0].announce()
        assert await capacity.channels() == 740
    finally:
        for client in others:
            await client.aclose()


async def test_a_withdrawn_replica_drops_out_at_once_and_stays_out(redis):
    a, b = CapacityBeacon(redis, "a", 10), CapacityBeacon(redis, "b", 3)
    await a.announce()
    await b.announce()
    await b.withdraw()
    capacity = DialCapacity(redis)
    assert await capacity.channels() == 10
    await b.announce()  # a heartbeat racing the shutdown
    assert await capacity.channels() == 10
    await a.withdraw()
    assert await capacity.channels() is None
    assert await redis.hlen(dial_channels.CHANNELS_KEY) == 0
    assert await redis.zcard(dial_channels.EXPIRY_KEY) == 0


async def test_an_expired_replica_drops_out_and_is_removed(redis):
    lasting = CapacityBeacon(redis, "lasting", 8, ttl_seconds=600)
    dying = CapacityBeacon(redis, "dying", 5, ttl_seconds=0.2)  # its dialer dies: nobody announces again
    await lasting.announce()
    await dying.announce()
    capacity = DialCapacity(redis)
    first = await capacity.channels()
    assert first in (13, 8), "the short announcement may already have ended on a slow machine"

    async def expired() -> bool:
        return await capacity.channels() == 8

    await poll(expired, "the dead replica's announcement to end")
    assert await redis.hkeys(dial_channels.CHANNELS_KEY) == [b"lasting"]
    assert [m for m, _ in await redis.zrange(dial_channels.EXPIRY_KEY, 0, -1, withscores=True)] == [b"lasting"]


async def test_announcing_again_keeps_a_replica_alive(redis):
    beacon = CapacityBeacon(redis, "beating", 6, ttl_seconds=0.5)
    capacity = DialCapacity(redis)
    await beacon.announce()
    before = await redis.zscore(dial_channels.EXPIRY_KEY, "beating")
    await asyncio.sleep(0.01)
    await beacon.announce()
    after = await redis.zscore(dial_channels.EXPIRY_KEY, "beating")
    assert after is not None and before is not None and after > before
    # Every expiry ends: once it has, the sum no longer counts the replica.
    await poll(lambda: _is_none(capacity), "the last announcement to end")


async def _is_none(capacity: DialCapacity) -> bool:
    return await capacity.channels() is None


async def test_redis_out_of_reach_is_unknown_not_raised(infra):
    url, server = infra.new_redis(own=True)
    assert server is not None
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await CapacityBeacon(client, "a", 10).announce()
        capacity = DialCapacity(client)
        assert await capacity.channels() == 10
        server.stop()
        assert await capacity.channels() is None
        server.start()
        assert await capacity.channels() is None, "a restarted Redis without data knows no replica"
        await CapacityBeacon(client, "a", 10).announce()
        assert await capacity.channels() == 10
    finally:
        await client.aclose()

