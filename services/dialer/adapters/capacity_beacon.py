"""This dialer replica's channels, announced in Redis for the execution service (kernel/dial_channels.py).

Invariant: the replica counts in the shared total only while its last announcement is younger
than `ttl_seconds` (Redis server time) and it has not withdrawn. Announcing again replaces the
channels and pushes the expiry out; withdrawing removes both at once. Once withdrawn, the beacon
announces nothing more, so a heartbeat racing the shutdown cannot bring the channels back.
Redis errors are raised to the caller, who decides whether they matter.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from kernel import dial_channels

# KEYS: channels hash, expiry set. ARGV: replica id, channels, ttl ms.
_ANNOUNCE = dial_channels.LUA_NOW_AND_PRUNE + """
prune()
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
"""

# KEYS: channels hash, expiry set. ARGV: replica id.
_WITHDRAW = """
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

_KEYS = [dial_channels.CHANNELS_KEY, dial_channels.EXPIRY_KEY]


class CapacityBeacon:
    def __init__(self, redis: Redis, replica_id: str, channels: int, ttl_seconds: float = 15.0):
        if not replica_id:
            raise ValueError("replica_id must not be empty")
        if channels < 0:
            raise ValueError("channels must not be negative")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.replica_id = replica_id
        self.channels = channels
        self.ttl_seconds = ttl_seconds
        self._announce = redis.register_script(_ANNOUNCE)
        self._withdraw = redis.register_script(_WITHDRAW)
        self._withdrawn = False
        # Announce and withdraw never overlap: an announce in flight lands before the withdraw.
        self._lock = asyncio.Lock()

    async def announce(self) -> None:
        """This replica has `channels` channels, valid `ttl_seconds` from now (nothing once withdrawn)."""
        async with self._lock:
            if self._withdrawn:
                return
            await self._announce(keys=_KEYS, args=[self.replica_id, self.channels,
                                                   max(1, int(self.ttl_seconds * 1000))])

    async def withdraw(self) -> None:
        """Shutdown: this replica's channels are gone at once, and stay gone."""
        self._withdrawn = True
        async with self._lock:
            await self._withdraw(keys=_KEYS, args=[self.replica_id])
