"""Per-trunk capacity in Redis, shared by every dialer replica: maxConcurrentCalls and
maxCallsPerSecond, both taken or neither, in one script run.

Each trunk has a sorted set of the calls it carries, scored by when their lease ends, and a
sorted set of the calls started within the last second, scored by their start. Times are Redis
server time, so replicas agree. A dialer that dies leaves leases that simply expire; a live call
renews its lease while it runs. A call refused for lack of room takes nothing (not even a start
in the window): the caller waits and asks again, it does not fail the call.

Acquires and releases of the calls under way go through coalescers: every ask waiting while a
round trip is out leaves in the next pipeline, one script run per ask, so a wave of calls costs a
few round trips instead of one each (the pool of connections stays far from exhausted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from services.dialer.adapters.batching import Coalescer
from services.dialer.domain.trunks import Trunk

WINDOW_MS = 1000

# KEYS: the trunk's calls set, its starts set. ARGV: call id, lease ms, max concurrent, max per second.
# Answers 1 when the call holds a slot (already holding one: its lease is extended, no new start),
# 0 when either limit is reached.
_ACQUIRE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local member = ARGV[1]
local lease = tonumber(ARGV[2])
local function hold()
  redis.call('ZADD', KEYS[1], now + lease, member)
  if redis.call('PTTL', KEYS[1]) < lease then
    redis.call('PEXPIRE', KEYS[1], lease)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], member) then
  hold()
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - WINDOW_MS)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) or redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  return 0
end
hold()
-- One entry per start, even for a call id that starts again after its release.
redis.call('ZADD', KEYS[2], now, member .. '@' .. t[1] .. '.' .. t[2])
redis.call('PEXPIRE', KEYS[2], WINDOW_MS * 2)
return 1
""".replace("WINDOW_MS", str(WINDOW_MS))

# KEYS: the trunk's calls set. ARGV: call id, lease ms. Extends a live lease only: 1, else 0.
_RENEW = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
"""

# KEYS: the trunk's calls set. Counts the leases not yet ended.
_IN_USE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""


def calls_key(trunk_name: str) -> str:
    return f"dialer:trunk:{trunk_name}:calls"


def starts_key(trunk_name: str) -> str:
    return f"dialer:trunk:{trunk_name}:starts"


def _lease_ms(lease_seconds: float) -> int:
    if lease_seconds <= 0:
        raise ValueError("lease_seconds must be positive")
    return max(1, int(lease_seconds * 1000))


@dataclass(frozen=True)
class _Ask:
    trunk: Trunk
    call_id: str
    lease_ms: int = 0


class TrunkLimits:
    """acquire / renew / release of one call's room on a trunk."""

    def __init__(self, redis: Redis, max_batch: int = 500):
        self.redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._in_use = redis.register_script(_IN_USE)
        self._acquires: Coalescer[_Ask, bool] = Coalescer(self._acquire_many, max_batch=max_batch)
        self._releases: Coalescer[_Ask, None] = Coalescer(self._release_many, max_batch=max_batch)

    async def acquire(self, trunk: Trunk, call_id: str, lease_seconds: float) -> bool:
        """True when the call now holds a slot on the trunk (within both limits); False: no room
        now, nothing taken — wait and ask again. Asking again while holding extends the lease.
        A Redis error is raised to the caller, who knows nothing was taken."""
        return await self._acquires(_Ask(trunk, call_id, _lease_ms(lease_seconds)))

    async def _acquire_many(self, asks: list[_Ask]) -> Sequence[bool | BaseException]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for ask in asks:
                await self._acquire(keys=[calls_key(ask.trunk.name), starts_key(ask.trunk.name)],
                                    args=[ask.call_id, ask.lease_ms, ask.trunk.max_concurrent_calls,
                                          ask.trunk.max_calls_per_second], client=pipe)
            answers = await pipe.execute(raise_on_error=False)
        return [a if isinstance(a, BaseException) else int(a) == 1 for a in answers]

    async def renew(self, trunk: Trunk, call_id: str, lease_seconds: float) -> bool:
        """Extend the call's lease from now; False when it had already expired (the slot is lost)."""
        renewed = await self._renew(keys=[calls_key(trunk.name)], args=[call_id, _lease_ms(lease_seconds)])
        return int(renewed) == 1

    async def release(self, trunk: Trunk, call_id: str) -> None:
        """Give the slot back (the call's start still counts in the last second's window)."""
        await self._releases(_Ask(trunk, call_id))

    async def _release_many(self, asks: list[_Ask]) -> Sequence[None | BaseException]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for ask in asks:
                pipe.zrem(calls_key(ask.trunk.name), ask.call_id)
            answers = await pipe.execute(raise_on_error=False)
        return [a if isinstance(a, BaseException) else None for a in answers]

    async def in_use(self, trunk: Trunk) -> int:
        """Calls holding a live lease on the trunk."""
        return int(await self._in_use(keys=[calls_key(trunk.name)], args=[]))
