"""The call gate: whether an execution may still start calls.

Written by the execution service, read by the dialer inside the Lua script that takes a DID
slot, so checking the gate and taking the capacity of a call are one atomic step. The
execution service opens the gate under the execution's row lock while it is `running` (in
the transaction that claims contacts) and closes it after every status change that stops
calls and before that change is answered. A missing key is a closed gate, so a lost Redis
never lets a call through; an open gate is a lease that the orchestrator renews, so a gate
whose closing could not be written closes by itself within `OPEN_SECONDS`.

The value is "<status version>:<1|0>". Every status change increments the execution's
status version; a write older than the stored version is ignored, so an "open" delayed in
the network can never reopen a gate closed since.
"""

from __future__ import annotations

OPEN_SECONDS = 60.0          # an open gate not renewed for this long closes
CLOSED_SECONDS = 24 * 3600   # a closed gate is kept this long, to fence late opens

# Lua: true when the gate at `key` is open.
LUA_GATE_OPEN = """
local function gate_open(key)
  local v = redis.call('GET', key)
  return v ~= false and string.sub(v, -2) == ':1'
end
"""


def key(execution_id: str) -> str:
    return f"gate:execution:{{{execution_id}}}"


def value(version: int, is_open: bool) -> str:
    return f"{version}:{1 if is_open else 0}"


def is_open(stored: str | bytes | None) -> bool:
    """A stored gate value read as open (a missing key is closed)."""
    if stored is None:
        return False
    text = stored.decode() if isinstance(stored, bytes) else stored
    return text.endswith(":1")
