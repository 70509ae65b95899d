"""Per-DID concurrent-call slots and round-robin counters in Redis, safe across replicas.

Each DID has a sorted set of the attempt ids calling from it, scored by when their lease
ends (Redis server time, so replicas agree). A dialer that dies leaves entries that simply
expire; a live call renews its entry while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from services.dialer.adapters.batching import Coalescer

# Many acquisitions in one script run, each exactly as if alone and in order.
# KEYS: the slot sets of every acquisition, concatenated, each group in the order to try.
# ARGV: cap, lease ms, then (member, number of keys) per acquisition.
# Answers, per acquisition, the 1-based index in its group of the DID taken (or already held by
# member), 0 if all are full.
_ACQUIRE_MANY = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local function acquire(first, n, member)
  for i = 1, n do
    local key = KEYS[first + i]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    if redis.call('ZSCORE', key, member) then
      redis.call('ZADD', key, now + lease, member)
      redis.call('PEXPIRE', key, lease)
      return i
    end
  end
  for i = 1, n do
    local key = KEYS[first + i]
    if redis.call('ZCARD', key) < cap then
      redis.call('ZADD', key, now + lease, member)
      redis.call('PEXPIRE', key, lease)
      return i
    end
  end
  return 0
end
local answers = {}
local first = 0
for a = 3, #ARGV, 2 do
  local n = tonumber(ARGV[a + 1])
  answers[#answers + 1] = acquire(first, n, ARGV[a])
  first = first + n
end
return answers
"""

# The rotation turn and the acquisition of many calls in one script run, each as if alone and in
# order: the call's rotation counter is incremented, its DIDs are tried from turn mod n on,
# wrapping (domain.did_choice.rotation), as _ACQUIRE_MANY does.
# KEYS: per call, its rotation counter then its slot sets in pool order.
# ARGV: cap, lease ms, counter time to live (s), then (member, number of slot sets) per call.
# Answers, per call, the 1-based index in pool order of the DID taken, 0 if all are full.
_ACQUIRE_IN_TURN = """
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
  local turn = redis.call('INCR', KEYS[first + 1]) - 1
  redis.call('EXPIRE', KEYS[first + 1], ttl)
  local answer = 0
  for k = 0, n - 1 do
    local i = (turn + k) % n + 1
    local key = KEYS[first + 1 + i]
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
      local key = KEYS[first + 1 + i]
      if redis.call('ZCARD', key) < cap then
        take(key, member)
        answer = i
        break
      end
    end
  end
  answers[#answers + 1] = answer
  first = first + 1 + n
end
return answers
"""

# KEYS: rotation counters; ARGV: their time to live in seconds. Answers each counter's new value.
_NEXT_TURNS = """
local values = {}
for i, key in ipairs(KEYS) do
  values[i] = redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[1])
end
return values
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


class DidSlots:
    """Rotation counters, acquisitions and releases of the calls being placed together go to
    Redis in one round trip each (a pipeline, or one script run for the acquisitions)."""

    def __init__(self, redis: Redis, lease_seconds: float):
        self.redis = redis
        self.lease_ms = int(lease_seconds * 1000)
        self._acquire_many = redis.register_script(_ACQUIRE_MANY)
        self._renew = redis.register_script(_RENEW)
        self._next_turns_script = redis.register_script(_NEXT_TURNS)
        self._release_many = redis.register_script(_RELEASE_MANY)
        self._acquire_in_turn_script = redis.register_script(_ACQUIRE_IN_TURN)
        self._turn_acquisitions = Coalescer(self._acquire_in_turn_batch)
        self._turns = Coalescer(self._next_turns)
        self._acquisitions = Coalescer(self._acquire_batch)
        self._releases = Coalescer(self._release_batch)

    async def next_turn(self, execution_id: str, group: str) -> int:
        """The rotation counter of this execution's DID group (0, 1, 2, …)."""
        return await self._turns(f"dialer:rr:{execution_id}:{group}")

    async def _next_turns(self, keys: list[str]) -> list[int]:
        values = await self._next_turns_script(keys=keys, args=[RR_TTL_SECONDS])
        return [int(v) - 1 for v in values]

    async def acquire(self, did_ids: Sequence[str], member: str, cap: int) -> str | None:
        """Take a slot on the first DID (in the given order) under the cap."""
        if not did_ids:
            return None
        return await self._acquisitions((list(did_ids), member, cap))

    async def _acquire_batch(self, items: list[tuple[list[str], str, int]]) -> list[str | None]:
        answers: list[str | None] = [None] * len(items)
        by_cap: dict[int, list[int]] = {}
        for i, (_, _, cap) in enumerate(items):
            by_cap.setdefault(cap, []).append(i)
        for cap, indexes in by_cap.items():
            keys: list[str] = []
            args: list = [cap, self.lease_ms]
            for i in indexes:
                did_ids, member, _ = items[i]
                keys.extend(slot_key(d) for d in did_ids)
                args.extend((member, len(did_ids)))
            taken = await self._acquire_many(keys=keys, args=args)
            for i, index in zip(indexes, taken, strict=True):
                index = int(index)
                answers[i] = items[i][0][index - 1] if index > 0 else None
        return answers

    async def acquire_in_turn(self, execution_id: str, group: str, did_ids: Sequence[str], member: str,
                              cap: int) -> str | None:
        """next_turn, then acquire over the DIDs rotated to that turn, in one round trip."""
        if not did_ids:
            return None
        return await self._turn_acquisitions((f"dialer:rr:{execution_id}:{group}", list(did_ids), member, cap))

    async def _acquire_in_turn_batch(self, items: list[tuple[str, list[str], str, int]]) -> list[str | None]:
        answers: list[str | None] = [None] * len(items)
        by_cap: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            by_cap.setdefault(item[3], []).append(i)
        for cap, indexes in by_cap.items():
            keys: list[str] = []
            args: list = [cap, self.lease_ms, RR_TTL_SECONDS]
            for i in indexes:
                counter, did_ids, member, _ = items[i]
                keys.append(counter)
                keys.extend(slot_key(d) for d in did_ids)
                args.extend((member, len(did_ids)))
            taken = await self._acquire_in_turn_script(keys=keys, args=args)
            for i, index in zip(indexes, taken, strict=True):
                index = int(index)
                answers[i] = items[i][1][index - 1] if index > 0 else None
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

    async def in_use(self, did_id: str) -> int:
        return int(await self.redis.zcard(slot_key(did_id)))
