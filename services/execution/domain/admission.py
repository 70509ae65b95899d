"""How many dial requests one dispatch may add: the queue in front of the dialers stays short.

A dial request waits in the DIAL stream until a dialer takes it. One that waits past its deadline
is answered `not_placed`, given back and dispatched again. Were the queue allowed to grow beyond
what the dialers take before the deadline, every request would expire before it is taken and the
campaign would churn without calling anybody (congestion collapse). So a dispatch adds no more
than the room left under the backlog limit. An unknown backlog (no dialer has subscribed yet, or
the broker did not answer) limits nothing: the deadline still guards every request.
"""

from __future__ import annotations


def dispatch_budget(batch_size: int, backlog: int | None, limit: int) -> int:
    """Requests this dispatch may publish; `limit` <= 0 turns the limit off."""
    if backlog is None or limit <= 0:
        return batch_size
    return max(0, min(batch_size, limit - backlog))
