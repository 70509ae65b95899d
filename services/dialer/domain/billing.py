"""What a call costs: one credit per started minute of talk, unanswered calls are free.

Each try of an attempt reserves under its own id: the account service replays a reservation
id's first answer, so a try after a rejection must not reuse the rejected one's id.
"""

from __future__ import annotations

import math


def billable_minutes(answered: bool, talk_seconds: float) -> int:
    if not answered or talk_seconds <= 0:
        return 0
    return math.ceil(talk_seconds / 60)


def reservation_id(attempt_id: str, rejections: int) -> str:
    """The attempt id; after `rejections` rejections of it, a fresh id."""
    return attempt_id if rejections == 0 else f"{attempt_id}:{rejections}"
