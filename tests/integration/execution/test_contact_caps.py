"""Contact limits in a real Redis, asked by two replicas (two connections): the last slot of a
number goes to exactly one of them, the rolling window releases at the instant the rule says, the
same attempt id counts once, and a slot given back can be taken again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from campaign_rules.contact_limits import ContactLimits, decide
from kernel.clock import Clock
from services.execution.adapters.contact_caps import CapAsk, ContactCaps, caps_key

T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
TICK = timedelta(microseconds=1)
DAY = timedelta(days=1)


@pytest.fixture
async def replicas(infra):
    url, _ = infra.new_redis()
    first, second = Redis.from_url(url), Redis.from_url(url)
    yield ContactCaps(first), ContactCaps(second)
    await first.aclose()
    await second.aclose()


def org() -> str:
    # A fresh organization per test: the Redis server is shared by the session.
    return str(uuid.uuid4())


def attempt() -> str:
    return str(uuid.uuid4())


async def test_two_replicas_racing_for_the_last_slot_get_it_once(replicas):
    a, b = replicas
    o, phone, limits = org(), "+33612345678", ContactLimits(max_attempts=3, per_days=30)
    assert await a.take(o, [CapAsk(phone, attempt()), CapAsk(phone, attempt())], limits, T0) == [None, None]
    for round_ in range(20):
        racers = [(a if i % 2 else b, CapAsk(phone, attempt())) for i in range(8)]
        now = T0 + timedelta(minutes=1 + round_)
        answers = await asyncio.gather(*(caps.take(o, [ask], limits, now) for caps, ask in racers))
        taken = [ask for (_, ask), [answer] in zip(racers, answers, strict=True) if answer is None]
        if round_ == 0:
            assert len(taken) == 1, "the last slot goes to exactly one replica"
        else:
            assert taken == [], "the cap is full"
        # Everyone refused is told the same instant: the oldest counted attempt leaving the window.
        assert {answer for [answer] in answers if answer is not None} == {T0 + timedelta(days=30)}


async def test_many_asks_in_one_batch_see_each_other_in_order(replicas):
    a, _ = replicas
    o, limits = org(), ContactLimits(max_attempts=2, per_days=1)
    asks = [CapAsk("+15550000001", attempt()), CapAsk("+15550000002", attempt()),
            CapAsk("+15550000001", attempt()), CapAsk("+15550000001", attempt()),
            CapAsk("+15550000002", attempt())]
    assert await a.take(o, asks, limits, T0) == [None, None, None, T0 + DAY, None]
    # Another organization has its own count for the same numbers.
    assert await a.take(org(), asks[:1], limits, T0) == [None]


async def test_the_rolling_window_releases_at_the_right_instant(replicas):
    a, b = replicas
    o, phone, limits = org(), "+212612345678", ContactLimits(max_attempts=2, per_days=1)
    first, second = T0, T0 + timedelta(hours=7, microseconds=5)
    assert await a.take(o, [CapAsk(phone, "first")], limits, first) == [None]
    assert await b.take(o, [CapAsk(phone, "second")], limits, second) == [None]
    release = first + DAY
    assert await a.take(o, [CapAsk(phone, "third")], limits, release - TICK) == [release]
    assert await b.peek(o, [CapAsk(phone, "third")], limits, release - TICK) == [release]
    assert await b.peek(o, [CapAsk(phone, "third")], limits, release) == [None]
    assert await b.take(o, [CapAsk(phone, "third")], limits, release) == [None]
    # Full again: now the second attempt must leave first.
    assert await a.take(o, [CapAsk(phone, "fourth")], limits, release + TICK) == [second + DAY]
    assert await a.take(o, [CapAsk(phone, "fourth")], limits, second + DAY) == [None]


async def test_the_adapter_answers_what_the_rule_decides(replicas):
    """Asks at increasing instants, over several numbers: every answer is `decide` over the
    attempts counted before it."""
    a, b = replicas
    o, limits = org(), ContactLimits(max_attempts=3, per_days=2)
    phones = ["+15551000001", "+15551000002"]
    counted: dict[str, list[datetime]] = {p: [] for p in phones}
    now = T0
    for i in range(60):
        now += timedelta(hours=(i * 7) % 11, microseconds=i)
        phone = phones[i % 3 % 2]
        expected = decide(limits, counted[phone], now)
        [answer] = await (a if i % 2 else b).take(o, [CapAsk(phone, f"a{i}")], limits, now)
        assert answer == expected, f"ask {i} at {now}"
        if answer is None:
            counted[phone].append(now)


async def test_the_same_attempt_id_counts_once(replicas):
    a, b = replicas
    o, phone, limits = org(), "+15552000001", ContactLimits(max_attempts=2, per_days=7)
    assert await a.take(o, [CapAsk(phone, "x"), CapAsk(phone, "x")], limits, T0) == [None, None]
    assert await b.take(o, [CapAsk(phone, "x")], limits, T0 + timedelta(hours=1)) == [None]
    # One slot used by "x" (kept at its first instant), so exactly one more fits.
    assert await b.take(o, [CapAsk(phone, "y")], limits, T0 + timedelta(hours=2)) == [None]
    assert await a.take(o, [CapAsk(phone, "z")], limits, T0 + timedelta(hours=3)) == [T0 + timedelta(days=7)]
    # A repeated take of a counted attempt is still answered "counted", even with the cap full.
    assert await a.take(o, [CapAsk(phone, "y")], limits, T0 + timedelta(hours=4)) == [None]


async def test_give_back_frees_a_slot(replicas):
    a, b = replicas
    o, phone, limits = org(), "+15553000001", ContactLimits(max_attempts=1, per_days=30)
    assert await a.take(o, [CapAsk(phone, "placed")], limits, T0) == [None]
    assert await b.take(o, [CapAsk(phone, "waiting")], limits, T0) == [T0 + timedelta(days=30)]
    await b.give_back(o, phone, "placed")
    await b.give_back(o, phone, "never-counted")  # nothing to give back: no effect
    assert await a.take(o, [CapAsk(phone, "waiting")], limits, T0 + TICK) == [None]
    assert await b.take(o, [CapAsk(phone, "other")], limits, T0 + TICK) == [T0 + TICK + timedelta(days=30)]


async def test_keys_expire_after_the_window_on_the_campaign_clock(infra):
    url, _ = infra.new_redis()
    redis = Redis.from_url(url)
    try:
        fast = ContactCaps(redis, clock=Clock(speed=3600))  # one campaign hour per real second
        o, phone, limits = org(), "+15554000001", ContactLimits(max_attempts=1, per_days=1)
        assert await fast.take(o, [CapAsk(phone, "a")], limits, T0) == [None]
        ttl = await redis.pttl(caps_key(o, phone))
        # A day of campaign time is 24 real seconds at this speed (plus the margin for skew).
        assert 24_000 < ttl <= 24_000 + 60_000
        # Refused asks keep the key alive too.
        await redis.pexpire(caps_key(o, phone), 1000)
        assert await fast.take(o, [CapAsk(phone, "b")], limits, T0 + TICK) == [T0 + DAY]
        assert await redis.pttl(caps_key(o, phone)) > 24_000
    finally:
        await redis.aclose()


async def test_a_redis_that_forgot_the_script_still_answers(infra):
    url, _ = infra.new_redis(own=True)  # its scripts are flushed: nobody else's
    redis = Redis.from_url(url)
    try:
        caps, o, limits = ContactCaps(redis), org(), ContactLimits(max_attempts=1, per_days=1)
        assert await caps.take(o, [CapAsk("+15555000001", "a")], limits, T0) == [None]
        await redis.script_flush()
        assert await caps.take(o, [CapAsk("+15555000001", "b")], limits, T0) == [T0 + DAY]
    finally:
        await redis.aclose()


async def test_lowered_limits_wait_for_every_surplus_attempt_to_leave(replicas):
    a, _ = replicas
    o, phone = org(), "+15556000001"
    stamps = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    for i, stamp in enumerate(stamps):
        assert await a.take(o, [CapAsk(phone, f"a{i}")], ContactLimits(3, 1), stamp) == [None]
    lowered = ContactLimits(max_attempts=2, per_days=1)
    # Three counted, two allowed: the two oldest must both leave, so the second one's exit decides.
    assert await a.take(o, [CapAsk(phone, "b")], lowered, stamps[2]) == [stamps[1] + DAY]
    assert await a.peek(o, [CapAsk(phone, "b")], lowered, stamps[2]) == [stamps[1] + DAY]
    assert await a.take(o, [CapAsk(phone, "b")], lowered, stamps[1] + DAY) == [None]


async def test_an_attempt_already_counted_is_not_held_by_the_cap_it_fills(replicas):
    """A claim in flight has counted its attempt before it commits: asked meanwhile why that
    contact waits, the cap must not be the answer (taking the same attempt again keeps it)."""
    a, b = replicas
    o, phone, limits = org(), "+15557000001", ContactLimits(max_attempts=2, per_days=1)
    assert await a.take(o, [CapAsk(phone, "x:1"), CapAsk(phone, "x:2")], limits, T0) == [None, None]
    assert await b.peek(o, [CapAsk(phone, "x:2"), CapAsk(phone, "x:3")], limits, T0 + TICK) == [None, T0 + DAY]
    assert await b.take(o, [CapAsk(phone, "x:2")], limits, T0 + TICK) == [None]
