"""Calls per second per organization in a real Redis: a full bucket grants its burst, then only
what the elapsed time refilled; organizations do not share tokens; concurrent takers on several
connections never exceed the bucket; tokens given back never raise it above the burst.

No bound here depends on how fast the machine is: each is computed from the times the test
measured around its calls. The script runs between the moment a request is sent and the moment
its answer arrives, so the server time between two takes lies between (first answered → second
sent) and (first sent → second answered)."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid

import pytest
from redis.asyncio import Redis

from services.execution.adapters.org_call_rate import EXPIRY_MARGIN_MS, OrgCallRate, RateUnavailable, rate_key

# Redis reads the wall clock, the test the monotonic one; NTP may slew them apart by 500 ppm.
SLEW = 0.001
LOTS = 1_000_000  # more than any bucket holds: a take of this many drains it


@pytest.fixture
async def redis(infra):
    url, _ = infra.new_redis()
    client = Redis.from_url(url)
    yield client
    await client.aclose()


def new_org() -> str:
    # A fresh organization per test: the Redis server may be shared by the session.
    return str(uuid.uuid4())


def most(limit: int, seconds: float) -> int:
    """Tokens a bucket of `limit` refills in at most `seconds` measured by the test."""
    return math.floor(limit * seconds * (1 + SLEW))


def least(limit: int, seconds: float) -> int:
    """Tokens a bucket of `limit` refills in at least `seconds` measured by the test."""
    return max(0, math.floor(limit * seconds * (1 - SLEW)))


async def test_a_full_bucket_grants_its_burst_then_the_refill(redis):
    rate, org, limit = OrgCallRate(redis), new_org(), 20
    sent_first = time.monotonic()
    assert await rate.take({org: (LOTS, limit)}) == {org: limit}
    answered_first = time.monotonic()
    await asyncio.sleep(0.3)
    sent = time.monotonic()
    granted = (await rate.take({org: (LOTS, limit)}))[org]
    answered = time.monotonic()
    assert min(limit, least(limit, sent - answered_first)) <= granted <= min(limit, most(limit, answered - sent_first))
    # Never more than asked, even from a bucket that has more.
    await asyncio.sleep(0.2)
    assert await rate.take({org: (1, limit)}) == {org: 1}


async def test_a_long_idle_bucket_holds_one_second_at_most(redis):
    rate, org, limit = OrgCallRate(redis), new_org(), 7
    assert await rate.take({org: (2, limit)}) == {org: 2}
    await asyncio.sleep(1.5)
    assert await rate.take({org: (LOTS, limit)}) == {org: limit}


async def test_granted_over_a_window_stay_within_rate_times_time_plus_burst(redis):
    rate, org, limit = OrgCallRate(redis), new_org(), 50
    rng = random.Random(5)
    total = 0
    started = time.monotonic()
    while time.monotonic() - started < 1.2:
        total += (await rate.take({org: (rng.randint(1, 30), limit)}))[org]
        await asyncio.sleep(rng.uniform(0, 0.05))
    ended = time.monotonic()
    assert 0 < total <= limit + most(limit, ended - started)


async def test_organizations_do_not_share_tokens(redis):
    rate, a, b, idle = OrgCallRate(redis), new_org(), new_org(), new_org()
    sent_first = time.monotonic()
    assert await rate.take({a: (LOTS, 5)}) == {a: 5}
    granted = await rate.take({a: (LOTS, 5), b: (LOTS, 9), idle: (0, 3)})
    answered = time.monotonic()
    assert granted[b] == 9, "a's drained bucket takes nothing from b's"
    assert granted[a] <= most(5, answered - sent_first)
    assert granted[idle] == 0 and not await redis.exists(rate_key(idle)), "nothing wanted: nothing touched"


async def test_concurrent_takers_never_exceed_the_bucket(redis):
    org, limit = new_org(), 10
    url = redis.connection_pool.connection_kwargs
    clients = [Redis(host=url["host"], port=url["port"], db=url.get("db", 0)) for _ in range(6)]
    try:
        rates = [OrgCallRate(client) for client in clients]
        started = time.monotonic()
        # Every replica wants more than the whole bucket at once: together they get one bucket.
        first = await asyncio.gather(*(r.take({org: (limit, limit)}) for r in rates))
        answered = time.monotonic()
        assert sum(g[org] for g in first) <= limit + most(limit, answered - started)
        assert sum(g[org] for g in first) >= limit

        async def keep_taking(r: OrgCallRate, seed: int) -> int:
            rng, got = random.Random(seed), 0
            while time.monotonic() - started < 1.0:
                got += (await r.take({org: (rng.randint(1, 4), limit)}))[org]
                await asyncio.sleep(rng.uniform(0, 0.02))
            return got

        later = await asyncio.gather(*(keep_taking(r, i) for i, r in enumerate(rates)))
        ended = time.monotonic()
        assert sum(g[org] for g in first) + sum(later) <= limit + most(limit, ended - started)
    finally:
        for client in clients:
            await client.aclose()


async def test_given_back_tokens_return_but_never_above_the_burst(redis):
    rate, org, limit = OrgCallRate(redis), new_org(), 10
    assert await rate.take({org: (3, limit)}) == {org: 3}
    await rate.give_back({org: (100, limit)})
    assert await rate.take({org: (LOTS, limit)}) == {org: limit}

    sent_first = time.monotonic()
    await rate.give_back({org: (4, limit)})  # the claim found 4 contacts fewer than granted
    granted = (await rate.take({org: (LOTS, limit)}))[org]
    answered = time.monotonic()
    assert 4 <= granted <= min(limit, 4 + most(limit, answered - sent_first))


async def test_giving_back_to_a_full_bucket_creates_nothing(redis):
    rate, org = OrgCallRate(redis), new_org()
    await rate.give_back({org: (5, 10)})
    assert not await redis.exists(rate_key(org))


async def test_a_bucket_expires_a_few_seconds_after_it_is_full_again(redis):
    rate, org, limit = OrgCallRate(redis), new_org(), 4
    assert await rate.take({org: (LOTS, limit)}) == {org: limit}
    assert 0 < await redis.pttl(rate_key(org)) <= 1000 + EXPIRY_MARGIN_MS


async def test_bad_asks_are_refused(redis):
    rate, org = OrgCallRate(redis), new_org()
    with pytest.raises(ValueError):
        await rate.take({org: (1, 0)})
    with pytest.raises(ValueError):
        await rate.take({org: (-1, 5)})
    with pytest.raises(ValueError):
        await rate.give_back({org: (1, -3)})
    assert await rate.take({}) == {}


async def test_redis_out_of_reach_raises_rate_unavailable(infra):
    url, server = infra.new_redis(own=True)
    assert server is not None
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    rate, org = OrgCallRate(client), new_org()
    try:
        assert await rate.take({org: (1, 5)}) == {org: 1}
        server.stop()
        with pytest.raises(RateUnavailable):
            await rate.take({org: (1, 5)})
        with pytest.raises(RateUnavailable):
            await rate.give_back({org: (1, 5)})
        server.start()
        assert await rate.take({org: (1, 5)}) == {org: 1}
    finally:
        await client.aclose()
