"""The channels the live dialer replicas announce (kernel/dial_channels.py), summed.

Invariant: the sum counts exactly the replicas whose announcement has not expired at the Redis
server's time of the read; the expired ones are removed in the same script. None means "not
known" (no replica announced, or Redis did not answer), never zero: the caller then falls back
to its own budget instead of stopping every call.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kernel import dial_channels, logs

log = logs.get("execution.dial_capacity")

GUARD_SECONDS = 2.0  # a Redis that hangs is a Redis that does not answer

# KEYS: channels hash, expiry set. Answers the sum, or -1 when no replica is live.
_CHANNELS = dial_channels.LUA_NOW_AND_PRUNE + """
prune()
local live = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
if #live == 0 then
  return -1
end
local total = 0
for _, replica in ipairs(live) do
  total = total + (tonumber(redis.call('HGET', KEYS[1], replica)) or 0)
end
return total
"""


class DialCapacity:
    def __init__(self, redis: Redis):
        self._channels = redis.register_script(_CHANNELS)
        self._failing = False  # logged once per outage, not once per pass

    async def channels(self) -> int | None:
        """Channels of every live dialer replica together; None when none is registered or Redis
        does not answer."""
        try:
            total = int(await asyncio.wait_for(
                self._channels(keys=[dial_channels.CHANNELS_KEY, dial_channels.EXPIRY_KEY], args=[]),
                GUARD_SECONDS))
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._failing:
                log.warning("dial channels unknown", extra={"error": repr(exc)})
            self._failing = True
            return None
        if self._failing:
            log.info("dial channels known again")
            self._failing = False
        return None if total < 0 else total
