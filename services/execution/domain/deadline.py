"""The deadline of a dial request: after it, the dialer hands no call to the carrier.

It is the earliest of the request time plus a short time to live (a request that waited in a
stalled dialer or broker is not dialled long after it was meant), the start of the next pause
window and stopAt. A request refused for its deadline consumes no attempt.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def dial_deadline(now: datetime, ttl: timedelta, window_start: datetime | None,
                  stop_at: datetime | None) -> datetime:
    candidates = [now + ttl]
    if window_start is not None:
        candidates.append(window_start)
    if stop_at is not None:
        candidates.append(stop_at)
    return min(candidates)
