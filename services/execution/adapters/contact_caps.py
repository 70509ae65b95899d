"""Contact limits (the organization's frequency cap) held in Redis, shared by every replica.

Per (organization, phone number): a sorted set of the attempt ids counted against the cap, each
scored by the campaign-clock instant it was counted at (microseconds since the epoch). One Lua
script per ask trims the attempts that left the window, then either counts the attempt or answers
when it may be placed — atomically, so two executions (on any replicas) can never both take the
last slot. The rule is campaign_rules.contact_limits.decide; the script is its Redis form and
answers exactly what `decide` answers for the attempts kept in the set.

`now` is always the caller's campaign-clock instant, never Redis TIME: the whole system may run
on a fast clock. Keys expire once the window has passed on that clock (converted to real time),
so numbers no longer called leave nothing behind.

Every Redis failure surfaces as ContactCapsUnavailable; the client fails fast because the caller
holds row locks meanwhile. Taking the same attempt id again counts it once, so a caller that
retries a claim with the same attempt ids never counts twice.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from campaign_rules.contact_limits import ContactLimits, decide, window
from kernel.clock import Clock, get_clock

GUARD_SECONDS = 3.0
# Keys outlive their window by this much real time (clocks of replicas differ a little).
EXPIRY_MARGIN_MS = 60_000

T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EXACT = 2**53  # Redis scores and Lua numbers are doubles: exact integers up to here (year 2255)

# KEYS: the (organization, phone) set. ARGV: attempt id, now (µs), window (µs), max attempts, ttl (ms).
# Answers 1 when the attempt is counted now, 0 when it was already counted (kept as it was), else
# the score (µs, as text) of the oldest counted attempt that must leave the window first.
# Everything after now - window stays counted (an attempt stamped a hair after `now` by a replica
# whose clock runs ahead counts too), as in `decide`.
_TAKE = """
local now = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local answer
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  answer = 0
else
  local n = redis.call('ZCARD', KEYS[1])
  if n >= max then
    answer = redis.call('ZRANGE', KEYS[1], n - max, n - max, 'WITHSCORES')[2]
  else
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
    answer = 1
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return answer
"""


@dataclass(frozen=True)
class CapAsk:
    """One attempt that is about to be placed to `phone` (E.164)."""

    phone: str
    attempt_id: str


class ContactCapsUnavailable(Exception):
    """Redis did not answer (or answered an error): nothing can be assumed counted."""


def caps_key(organization_id: str, phone: str) -> str:
    return f"contact_caps:{organization_id}:{phone}"


def _micros(instant: datetime) -> int:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    micros = (instant - _EPOCH) // _MICROSECOND
    if abs(micros) >= _EXACT:
        raise ValueError("instant out of the range a Redis score holds exactly")
    return micros


def _instant(micros: float) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


class ContactCaps:
    def __init__(self, redis: Redis, clock: Clock | None = None):
        self.redis = redis
        self._clock = clock
        self._take = redis.register_script(_TAKE)

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(awaitable, GUARD_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:
            raise ContactCapsUnavailable(repr(exc)) from exc

    def _ttl_ms(self, limits: ContactLimits) -> int:
        # The window is campaign-clock time; a key must live until it has passed on that clock.
        clock = self._clock or get_clock()
        return math.ceil(clock.real_seconds(window(limits).total_seconds()) * 1000) + EXPIRY_MARGIN_MS

    async def take(self, organization_id: str, asks: Sequence[CapAsk], limits: ContactLimits,
                   now: datetime) -> list[datetime | None]:
        """For each ask, in order (two asks for one number see each other): None when the attempt
        is counted against the cap at `now` (or already was: the same attempt id counts once), or
        the instant it may be placed, when the cap is reached (deferred: nothing counted).

        One script run per ask, all in one pipelined round trip. On a Redis failure the attempts
        this call counted are given back (as far as Redis answers) and ContactCapsUnavailable is
        raised."""
        if not asks:
            return []
        now_us = _micros(now)
        window_us = window(limits) // _MICROSECOND
        ttl_ms = self._ttl_ms(limits)
        answers = await self._guard(self._run(organization_id, asks, limits, now_us, window_us, ttl_ms))
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed:
            counted = [ask for ask, a in zip(asks, answers, strict=True) if a == 1]
            await self._give_back_quietly(organization_id, counted)
            raise ContactCapsUnavailable(repr(failed[0])) from failed[0]
        return [None if isinstance(a, int) else _instant(float(a)) + window(limits) for a in answers]

    async def _run(self, organization_id: str, asks: Sequence[CapAsk], limits: ContactLimits, now_us: int,
                   window_us: int, ttl_ms: int) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for ask in asks:
                await self._take(keys=[caps_key(organization_id, ask.phone)],
                                 args=[ask.attempt_id, now_us, window_us, limits.max_attempts, ttl_ms],
                                 client=pipe)
            return await pipe.execute(raise_on_error=False)

    async def _give_back_quietly(self, organization_id: str, asks: Sequence[CapAsk]) -> None:
        try:
            await self._give_back_many(organization_id, asks)
        except ContactCapsUnavailable:
            pass  # left counted: the cap errs towards fewer calls until the window passes

    async def _give_back_many(self, organization_id: str, asks: Sequence[CapAsk]) -> None:
        if not asks:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for ask in asks:
                pipe.zrem(caps_key(organization_id, ask.phone), ask.attempt_id)
            await self._guard(pipe.execute())

    async def give_back(self, organization_id: str, phone: str, attempt_id: str) -> None:
        """The attempt was finally not placed: it no longer counts (nothing happens when it did not)."""
        await self._guard(self.redis.zrem(caps_key(organization_id, phone), attempt_id))

    async def peek(self, organization_id: str, asks: Sequence[CapAsk], limits: ContactLimits,
                   now: datetime) -> list[datetime | None]:
        """What `take` would answer for each ask at `now`, counting nothing: None when its attempt
        is already counted (a claim in flight, or one rolled back: taking it again keeps it), else
        `decide` over the attempts counted in Redis (for explaining why a contact waits)."""
        if not asks:
            return []
        floor = f"({_micros(now) - window(limits) // _MICROSECOND}"
        async with self.redis.pipeline(transaction=False) as pipe:
            for ask in asks:
                pipe.zrangebyscore(caps_key(organization_id, ask.phone), floor, "+inf", withscores=True)
            found = await self._guard(pipe.execute())
        answers: list[datetime | None] = []
        for ask, rows in zip(asks, found, strict=True):
            members = {(m.decode() if isinstance(m, bytes) else m): score for m, score in rows}
            counted = ask.attempt_id in members
            answers.append(None if counted else decide(limits, [_instant(s) for s in members.values()], now))
        return answers
