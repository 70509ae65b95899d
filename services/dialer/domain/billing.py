"""What a call costs: one credit per started minute of talk, unanswered calls are free."""

from __future__ import annotations

import math


def billable_minutes(answered: bool, talk_seconds: float) -> int:
    if not answered or talk_seconds <= 0:
        return 0
    return math.ceil(talk_seconds / 60)
