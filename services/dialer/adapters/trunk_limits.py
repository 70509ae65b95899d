"""Per-trunk capacity in Redis, shared by every dialer replica: maxConcurrentCalls and
maxCallsPerSecond, both taken or neither, in one script run.

Each trunk has a sorted set of the calls it carries, scored by when their lease ends, and a
sorted set of the calls started within the last second, scored by their start. Times are Redis
server time, so replicas agree. A dialer that dies leaves leases that simply expire; a live call
renews its lease while it runs. A call refused for lack of room takes nothing (not even a start
in the window): the caller waits and asks again, it does not fail the call.
"""

from __future__ import annotations

from redis.asyncio import Redis

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


class TrunkLimits:
    """acquire / renew / release of one call's room on a trunk; one round trip each."""

    def __init__(self, redis: Redis):
        self.redis = redis
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._in_use = redis.register_script(_IN_USE)

    async def acquire(self, trunk: Trunk, call_id: str, lease_seconds: float) -> bool:
        """True when the call now holds a slot on the trunk (within both limits); False: no room
        now, nothing taken — wait and ask again. Asking again while holding extends the lease."""
        taken = await self._acquire(keys=[calls_key(trunk.name), starts_key(trunk.name)],
                                    args=[call_id, _lease_ms(lease_seconds), trunk.max_concurrent_calls,
                                          trunk.max_calls_per_second])
        return int(taken) == 1

    async def renew(self, trunk: Trunk, call_id: str, lease_seconds: float) -> bool:
        """Extend the call's lease from now; False when it had already expired (the slot is lost)."""
        renewed = await self._renew(keys=[calls_key(trunk.name)], args=[call_id, _lease_ms(lease_seconds)])
        return int(renewed) == 1

    async def release(self, trunk: Trunk, call_id: str) -> None:
        """Give the slot back (the call's start still counts in the last second's window)."""
        await self.redis.zrem(calls_key(trunk.name), call_id)

    async def in_use(self, trunk: Trunk) -> int:
        """Calls holding a live lease on the trunk."""
        return int(await self._in_use(keys=[calls_key(trunk.name)], args=[]))
