"""Auto-pause node counters in Redis, scoped to the execution.

Per execution: a hash node id → times the node ran (`execution:{id}:node_counts`) and a set
of the attempt ids counted whose result is not committed in PostgreSQL yet
(`execution:{id}:counting`). One Lua script counts the calls of a batch and answers the
counts of the rule nodes in the same round trip. The set makes the count idempotent: a
result whose transaction rolled back after it was counted is redelivered and counted once;
once the transaction commits, the fenced update already refuses a repeated result, so the
attempt ids are dropped again.

Every Redis failure surfaces as CountersUnavailable; the client fails fast (short socket
timeouts, no retries) because the callers hold row locks meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

SOCKET_TIMEOUT_SECONDS = 1.0
# Attempt ids left behind by a failed clean-up never outlive this.
COUNTING_TTL_SECONDS = 24 * 3600

_COUNT = """
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local attempt, k = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('SADD', KEYS[2], attempt) == 1 then
    for j = i + 2, i + 1 + k do
      redis.call('HINCRBY', KEYS[1], ARGV[j], 1)
    end
  end
  i = i + 2 + k
end
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[i]))
local out = {}
for j = i + 1, #ARGV do
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[1], ARGV[j]) or '0')
end
return out
"""


def counts_key(execution_id: str) -> str:
    return f"execution:{{{execution_id}}}:node_counts"


def counting_key(execution_id: str) -> str:
    return f"execution:{{{execution_id}}}:counting"


class CountersUnavailable(Exception):
    """Redis did not answer (or answered an error): nothing can be assumed counted."""


@dataclass(frozen=True)
class CountedCall:
    attempt_id: str
    node_ids: tuple[str, ...]


_COUNT_SHA = hashlib.sha1(_COUNT.encode()).hexdigest()


def connect(url: str, max_connections: int = 32) -> Redis:
    # A bounded pool that waits for a free connection (briefly) rather than failing.
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=SOCKET_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)
    return Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))


class NodeCounters:
    def __init__(self, redis: Redis):
        self.redis = redis

    async def _guard(self, awaitable):
        try:
            return await asyncio.wait_for(awaitable, SOCKET_TIMEOUT_SECONDS * 3)
        except (RedisError, OSError, TimeoutError) as exc:
            raise CountersUnavailable(repr(exc)) from exc

    async def ping(self) -> None:
        await self._guard(self.redis.ping())

    async def count(self, batches: Mapping[str, tuple[Sequence[CountedCall], Sequence[str]]]
                    ) -> dict[str, dict[str, int]]:
        """batches: execution id → (calls to count, nodes to answer). Answers the counts of those
        nodes after counting: one script per execution, all in one pipelined round trip."""
        ids = list(batches)
        commands = []
        for execution_id in ids:
            calls, nodes = batches[execution_id]
            args: list[str | int] = [len(calls)]
            for call in calls:
                args += [call.attempt_id, len(call.node_ids), *call.node_ids]
            args += [COUNTING_TTL_SECONDS, *nodes]
            commands.append((counts_key(execution_id), counting_key(execution_id), *args))
        values = await self._guard(self._run(commands))
        return {e: dict(zip(batches[e][1], (int(v) for v in vs), strict=True)) for e, vs in zip(ids, values,
                                                                                                 strict=True)}

    async def _run(self, commands: list[tuple]) -> list:
        for first in (True, False):
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.evalsha(_COUNT_SHA, 2, *command)
                try:
                    return await pipe.execute()
                except NoScriptError:
                    if not first:
                        raise
            # A Redis that restarted (or never saw the script): load it once, then again.
            await self.redis.script_load(_COUNT)
        raise AssertionError("unreachable")

    async def committed(self, attempts: Mapping[str, Sequence[str]]) -> None:
        """The results of these attempts are committed: the fence guards them from now on."""
        attempts = {e: a for e, a in attempts.items() if a}
        if not attempts:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for execution_id, ids in attempts.items():
                pipe.srem(counting_key(execution_id), *ids)
            await self._guard(pipe.execute())

    async def read(self, execution_id: str, nodes: Sequence[str]) -> dict[str, int]:
        if not nodes:
            return {}
        values = await self._guard(self.redis.hmget(counts_key(execution_id), list(nodes)))
        return {node: int(v or 0) for node, v in zip(nodes, values, strict=True)}

    async def reset(self, execution_id: str, nodes: Sequence[str]) -> None:
        if nodes:
            await self._guard(self.redis.hdel(counts_key(execution_id), *nodes))

    async def drop(self, execution_id: str) -> None:
        await self._guard(self.redis.delete(counts_key(execution_id), counting_key(execution_id)))
