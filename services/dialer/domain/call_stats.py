"""Call statistics of an execution: finished calls counted per bucket of their end time and per
outcome. A bucket is `bucket_seconds` wide (10 s to one hour, so that a chart has sensible
resolution and the query a bounded number of groups) and starts at a multiple of its width
since the Unix epoch, so buckets line up across executions and time zones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kernel import errors

MIN_BUCKET_SECONDS = 10
MAX_BUCKET_SECONDS = 3600


@dataclass(frozen=True)
class CallBucket:
    start: datetime
    outcomes: dict[str, int]  # outcome → calls that ended in the bucket with it

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())


def check_bucket_seconds(value: int) -> int:
    if not MIN_BUCKET_SECONDS <= value <= MAX_BUCKET_SECONDS:
        raise errors.ValidationError(
            f"bucketSeconds: must be between {MIN_BUCKET_SECONDS} and {MAX_BUCKET_SECONDS}", field="bucketSeconds")
    return value
