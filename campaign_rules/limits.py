"""Numbers every context must agree on: what one call costs, how many calls a program may run."""

from __future__ import annotations

# The available balance must cover one minute before a call is placed (reserved by the dialer,
# checked by an execution's resume).
CREDITS_PER_CALL = 1

# A program's concurrent-call cap: the default when none is given, and the bounds of a given one.
DEFAULT_MAX_CONCURRENT_CALLS = 10
MAX_CONCURRENT_CALLS = (1, 1000)
