"""Per-API-key rate limit shared by every gateway replica (a token bucket in Redis).

RATE_LIMIT_PER_SECOND (default 100) refills the bucket, RATE_LIMIT_BURST (default twice the
rate, at least 1) is its size; a rate of 0 turns the limit off. If Redis cannot be reached the request is let through:
the limit protects the system, it must not become the reason it is down.
"""

from __future__ import annotations

import hashlib
import math
import time

import redis.asyncio as aioredis

from kernel import logs

log = logs.get("gateway.ratelimit")

# KEYS[1] bucket; ARGV rate, burst, now (seconds). Returns {allowed, seconds until a token}.
_TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(wait)}
"""


class RateLimiter:
    def __init__(self, redis_url: str, rate: float, burst: float | None = None):
        self.rate = rate
        self.burst = max(1.0, rate * 2) if burst is None else burst
        self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5) \
            if self.rate > 0 else None
        self._script = self._redis.register_script(_TOKEN_BUCKET) if self._redis else None

    async def check(self, api_key: str) -> int | None:
        """None when allowed; otherwise the whole seconds to wait (Retry-After)."""
        if self._script is None:
            return None
        bucket = "ratelimit:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
        try:
            allowed, wait = await self._script(keys=[bucket], args=[self.rate, self.burst, time.time()])
        except Exception as exc:
            log.warning("rate limiter unavailable; letting the request through", extra={"error": repr(exc)})
            return None
        return None if int(allowed) == 1 else max(1, math.ceil(float(wait)))

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
