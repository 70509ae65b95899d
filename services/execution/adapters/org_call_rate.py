"""Calls per second per organization: a token bucket in Redis, shared by every execution replica.

Invariant: over any interval of T seconds (Redis server time), an organization with limit L is
granted at most L × T + L calls — the bucket holds at most one second's worth (the burst, L, at
least 1) and refills continuously at L per second. Tokens given back (taken, then not used) never
raise it above the burst either. Every organization has its own bucket: one's demand never
takes another's tokens.

One script run serves every organization of a pass, atomically, so concurrent takers on any
replicas never share a token. Buckets are counted in micro-tokens, refilled per microsecond of
`TIME`, so the arithmetic is exact on Lua's doubles. A key expires a few seconds after its bucket
would be full again: a missing key is a full bucket. Time is real time, not the campaign clock:
the rate protects carriers and callees, which live in real time.

A Redis failure raises RateUnavailable. A take cut short by it may have taken tokens nobody
uses; they come back with the refill (an error costs calls for at most a second, never adds any).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

GUARD_SECONDS = 2.0  # a Redis that hangs is a Redis that does not answer
EXPIRY_MARGIN_MS = 3000

# level(key, limit): the bucket's micro-tokens at `now`, and whether its key exists (a missing key
# is a full bucket); store(): writes a level at `now`, the key living until full plus the margin.
_BUCKET = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local UNIT = 1000000
local function level(key, limit)
  local stored = redis.call('HMGET', key, 'tokens', 'at')
  if not stored[1] then
    return limit * UNIT, false
  end
  local elapsed = math.max(0, now - tonumber(stored[2]))
  return math.min(limit * UNIT, tonumber(stored[1]) + elapsed * limit), true
end
local function store(key, tokens, limit)
  redis.call('HSET', key, 'tokens', tokens, 'at', now)
  redis.call('PEXPIRE', key, math.ceil((limit * UNIT - tokens) / limit / 1000) + MARGIN)
end
""".replace("MARGIN", str(EXPIRY_MARGIN_MS))

# KEYS: one bucket per organization. ARGV: per key (count wanted, limit). Answers the granted counts.
_TAKE = _BUCKET + """
local granted = {}
for i, key in ipairs(KEYS) do
  local wanted = tonumber(ARGV[2 * i - 1])
  local limit = tonumber(ARGV[2 * i])
  local tokens = level(key, limit)
  local n = math.min(wanted, math.floor(tokens / UNIT))
  store(key, tokens - n * UNIT, limit)
  granted[i] = n
end
return granted
"""

# KEYS: one bucket per organization. ARGV: per key (count unused, limit). Answers how many were given back.
_GIVE_BACK = _BUCKET + """
local given = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local tokens, exists = level(key, limit)
  if exists then
    store(key, math.min(limit * UNIT, tokens + tonumber(ARGV[2 * i - 1]) * UNIT), limit)
    given = given + 1
  end
end
return given
"""


class RateUnavailable(Exception):
    """Redis did not answer (or answered an error): no call may be assumed allowed."""


def rate_key(organization_id: str) -> str:
    return f"outbound:org_rate:{organization_id}"


def _asks(counts: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """The organizations with a positive count; checks every entry."""
    for organization_id, (count, limit) in counts.items():
        if count < 0:
            raise ValueError(f"negative count for organization {organization_id}")
        if limit <= 0:
            raise ValueError(f"calls per second limit must be positive for organization {organization_id}")
    return {o: (int(count), int(limit)) for o, (count, limit) in counts.items() if count > 0}


class OrgCallRate:
    def __init__(self, redis: Redis):
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)

    async def take(self, wanted: Mapping[str, tuple[int, int]]) -> dict[str, int]:
        """organization id → (count wanted, calls per second limit > 0) ⇒ count granted, 0..wanted.
        Raises RateUnavailable when Redis does not answer."""
        granted = dict.fromkeys(wanted, 0)
        asks = _asks(wanted)
        if asks:
            answers = await self._run(self._take(keys=[rate_key(o) for o in asks], args=_args(asks)))
            granted.update(zip(asks, (int(n) for n in answers), strict=True))
        return granted

    async def give_back(self, unused: Mapping[str, tuple[int, int]]) -> None:
        """Tokens taken but not used go back to their buckets, none above the burst.
        Raises RateUnavailable when Redis does not answer."""
        asks = _asks(unused)
        if asks:
            await self._run(self._give_back(keys=[rate_key(o) for o in asks], args=_args(asks)))

    async def _run(self, script: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(script, GUARD_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:
            raise RateUnavailable(repr(exc)) from exc


def _args(asks: Mapping[str, tuple[int, int]]) -> list[int]:
    return [n for pair in asks.values() for n in pair]
