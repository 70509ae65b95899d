"""Writes the call gates of executions in Redis (see kernel/call_gate.py for the contract).

Opens are written by the orchestrator inside the claim transaction, under the execution's row
lock, and renewed only when the cached open is older than a third of its lease; closes are
written after the status change committed and before it is answered.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kernel import call_gate, logs

log = logs.get("execution.call_gate")

# KEYS: gates; ARGV: per key (version, 1|0, ttl ms). A write older than the stored version is
# ignored. Answers how many were written.
_SET_GATES = """
local written = 0
for i, key in ipairs(KEYS) do
  local version = tonumber(ARGV[3 * i - 2])
  local current = redis.call('GET', key)
  local stored = current and tonumber(string.match(current, '^(%d+):')) or -1
  if version >= stored then
    redis.call('SET', key, ARGV[3 * i - 2] .. ':' .. ARGV[3 * i - 1], 'PX', ARGV[3 * i])
    written = written + 1
  end
end
return written
"""


class GateUnavailable(Exception):
    """Redis did not take the gate write."""


class CallGates:
    def __init__(self, redis: Redis, open_seconds: float = call_gate.OPEN_SECONDS):
        self._script = redis.register_script(_SET_GATES)
        self.open_seconds = open_seconds
        # execution id → (version, monotonic time of the write): opens still fresh are not rewritten.
        self._opened: dict[str, tuple[int, float]] = {}

    async def open(self, versions: Mapping[str, int]) -> None:
        """Open (or renew) the gates of running executions; the caller holds their row locks."""
        now = time.monotonic()
        stale = {e: v for e, v in versions.items()
                 if (cached := self._opened.get(e)) is None or cached[0] != v
                 or now - cached[1] > self.open_seconds / 3}
        if not stale:
            return
        await self._write(stale, True, self.open_seconds)
        self._opened.update((e, (v, now)) for e, v in stale.items())
        if len(self._opened) > 100_000:
            self._opened.clear()

    async def close(self, versions: Mapping[str, int]) -> None:
        """Close the gates of executions that stopped running (status version after the change)."""
        if not versions:
            return
        for execution_id in versions:
            self._opened.pop(execution_id, None)
        await self._write(versions, False, call_gate.CLOSED_SECONDS)

    async def close_logged(self, versions: Mapping[str, int]) -> None:
        """close(), where a Redis failure is logged: the open lease then runs out by itself."""
        try:
            await self.close(versions)
        except GateUnavailable as exc:
            log.error("call gate not closed; it closes when its open lease ends",
                      extra={"executions": sorted(versions), "error": str(exc)})

    async def _write(self, versions: Mapping[str, int], is_open: bool, ttl_seconds: float) -> None:
        keys = [call_gate.key(e) for e in versions]
        args: list[str | int] = []
        for version in versions.values():
            args.extend((int(version), 1 if is_open else 0, int(ttl_seconds * 1000)))
        try:
            await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise GateUnavailable(repr(exc)) from exc
