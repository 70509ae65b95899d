"""Per-DID concurrent-call slots and round-robin counters in Redis, safe across replicas.

Each DID has a sorted set of the attempt ids calling from it, scored by when their lease
ends (Redis server time, so replicas agree). A dialer that dies leaves entries that simply
expire; a live call renews its entry while it runs.

The same script checks the execution's call gate (kernel/call_gate.py) before it takes a
slot: a call is let through the gate and given its capacity in one atomic step, so once the
execution service has closed the gate no call waiting for a slot can start.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from kernel import call_gate
from services.dialer.adapters.batching import Coalescer

# The gate check, the rotation turn and the acquisition of many calls in one script run, each as
# if alone and in order: a call whose execution's gate is closed takes nothing; otherwise its
# rotation counter is incremented and its DIDs are tried from turn mod n on, wrapping
# (domain.did_choice.rotation): first one it already holds, then the first under the cap.
# KEYS: per call, its execution's gate, its rotation counter, then its slot sets in pool order.
# ARGV: cap, lease ms, counter time to live (s), then (member, number of slot sets) per call.
# Answers, per call, the 1-based index in pool order of the DID taken, 0 if all are full, -1 if
# the gate is closed.
_ACQUIRE_IN_TURN = call_gate.LUA_GATE_OPEN + """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local function take(key, member)
  redis.call('ZADD', key, now + lease, member)
  redis.call('PEXPIRE', key, lease)
end
local answers = {}
local first = 0
for a = 4, #ARGV, 2 do
  local member = ARGV[a]
  local n = tonumber(ARGV[a + 1])
  local answer = -1
  if gate_open(KEYS[first + 1]) then
    local turn = redis.call('INCR', KEYS[first + 2]) - 1
    redis.call('EXPIRE', KEYS[first + 2], ttl)
    answer = 0
    for k = 0, n - 1 do
      local i = (turn + k) % n + 1
      local key = KEYS[first + 2 + i]
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      if redis.call('ZSCORE', key, member) then
        take(key, member)
        answer = i
        break
      end
    end
    if answer == 0 then
      for k = 0, n - 1 do
        local i = (turn + k) % n + 1
        local key = KEYS[first + 2 + i]
        if redis.call('ZCARD', key) < cap then
          take(key, member)
          answer = i
          break
        end
      end
    end
  end
  answers[#answers + 1] = answer
  first = first + 2 + n
end
return answers
"""

# KEYS: slot sets; ARGV: the member to remove from each.
_RELEASE_MANY = """
for i, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[i])
end
return #KEYS
"""

# KEYS: slot sets; ARGV: lease ms, then one member per key. Extends live entries only.
_RENEW = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease)
end
return #KEYS
"""

RR_TTL_SECONDS = 7 * 24 * 3600


def slot_key(did_id: str) -> str:
    return f"dialer:did:{did_id}:calls"


class GateClosed(Exception):
    """The execution's call gate is closed: it may start no call."""


class GateUnreadable(Exception):
    """Redis did not answer the gate's read: the call may not start (a gate that cannot be read
    counts as closed, as a missing one does)."""


class DidSlots:
    """Rotation counters, acquisitions and releases of the calls being placed together go to
    Redis in one round trip each (a pipeline, or one script run for the acquisitions)."""

    def __init__(self, redis: Redis, lease_seconds: float):
        self.redis = redis
        self.lease_ms = int(lease_seconds * 1000)
        self._renew = redis.register_script(_RENEW)
        self._release_many = redis.register_script(_RELEASE_MANY)
        self._acquire_in_turn_script = redis.register_script(_ACQUIRE_IN_TURN)
        self._turn_acquisitions = Coalescer(self._acquire_in_turn_batch)
        self._releases = Coalescer(self._release_batch)
        self._gates = Coalescer(self._gates_open)

    async def acquire_in_turn(self, execution_id: str, group: str, did_ids: Sequence[str], member: str,
                              cap: int) -> str | None:
        """Through the execution's gate, then a slot on the DIDs rotated to the group's next turn,
        in one round trip: the DID taken, None when all are at the cap; GateClosed when closed."""
        if not did_ids:
            return None
        return await self._turn_acquisitions((execution_id, f"dialer:rr:{execution_id}:{group}", list(did_ids),
                                              member, cap))

    async def _acquire_in_turn_batch(self, items: list[tuple[str, str, list[str], str, int]]
                                     ) -> list[str | None | GateClosed]:
        answers: list[str | None | GateClosed] = [None] * len(items)
        by_cap: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            by_cap.setdefault(item[4], []).append(i)
        for cap, indexes in by_cap.items():
            keys: list[str] = []
            args: list = [cap, self.lease_ms, RR_TTL_SECONDS]
            for i in indexes:
                execution_id, counter, did_ids, member, _ = items[i]
                keys.extend((call_gate.key(execution_id), counter))
                keys.extend(slot_key(d) for d in did_ids)
                args.extend((member, len(did_ids)))
            taken = await self._acquire_in_turn_script(keys=keys, args=args)
            for i, index in zip(indexes, taken, strict=True):
                index = int(index)
                answers[i] = items[i][2][index - 1] if index > 0 else GateClosed() if index < 0 else None
        return answers

    async def renew(self, held: Sequence[tuple[str, str]]) -> None:
        """Extend the leases of (did_id, member) slots still in use."""
        if not held:
            return
        await self._renew(keys=[slot_key(d) for d, _ in held], args=[self.lease_ms, *[m for _, m in held]])

    async def release(self, did_id: str, member: str) -> None:
        await self._releases((did_id, member))

    async def _release_batch(self, items: list[tuple[str, str]]) -> list[None]:
        await self._release_many(keys=[slot_key(d) for d, _ in items], args=[m for _, m in items])
        return [None] * len(items)

    async def gate_open(self, execution_id: str) -> bool:
        """The execution's call gate, read again (a call that passed it a while ago)."""
        try:
            return await self._gates(execution_id)
        except (RedisError, OSError, TimeoutError) as exc:
            raise GateUnreadable(str(exc)) from exc

    async def _gates_open(self, execution_ids: list[str]) -> list[bool]:
        values = await self.redis.mget([call_gate.key(e) for e in execution_ids])
        return [call_gate.is_open(v) for v in values]

    async def in_use(self, did_id: str) -> int:
        return int(await self.redis.zcard(slot_key(did_id)))
