"""The bucket width rule of the call statistics."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kernel import errors
from services.dialer.domain.call_stats import CallBucket, check_bucket_seconds


@pytest.mark.parametrize("width", [10, 60, 3600])
def test_a_width_from_ten_seconds_to_an_hour_is_taken(width: int):
    assert check_bucket_seconds(width) == width


@pytest.mark.parametrize("width", [0, 9, 3601, -60])
def test_any_other_width_is_a_validation_error_naming_the_field(width: int):
    with pytest.raises(errors.ValidationError) as refused:
        check_bucket_seconds(width)
    assert refused.value.field == "bucketSeconds"


def test_a_bucket_total_is_the_sum_of_its_outcomes():
    assert CallBucket(datetime(2026, 1, 1, tzinfo=UTC), {"answered": 3, "busy": 2}).total == 5
