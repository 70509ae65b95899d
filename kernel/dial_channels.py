"""Dial channels: how many calls the live dialer replicas can carry at once, all together.

Written by every dialer replica (its beacon), read by the execution service, which admits dial
requests only while channels are free. Two keys, always changed together by one script:
`CHANNELS_KEY`, a hash replica id → channels, and `EXPIRY_KEY`, a sorted set replica id → the
instant (Redis server time, ms) its announcement ends. A replica counts only while its expiry is
in the future, so a dialer that dies without withdrawing drops out within one TTL; expired
replicas are removed from both keys by whichever script sees them first.
"""

from __future__ import annotations

CHANNELS_KEY = "outbound:dialer:channels"
EXPIRY_KEY = "outbound:dialer:expiry"

# Lua: `now` in ms of Redis server time, and prune() removing the replicas expired at `now`
# from both keys (KEYS[1] the hash, KEYS[2] the sorted set).
LUA_NOW_AND_PRUNE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function prune()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  for _, replica in ipairs(expired) do
    redis.call('HDEL', KEYS[1], replica)
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  end
end
"""
