from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.timefmt import InvalidTimestamp, TimestampOutOfRange, iso, parse_iso


def test_iso_has_milliseconds_and_z():
    assert iso(datetime(2025, 12, 20, 9, 0, tzinfo=UTC)) == "2025-12-20T09:00:00.000Z"
    assert iso(datetime(2025, 12, 20, 9, 0, 1, 234567, tzinfo=UTC)) == "2025-12-20T09:00:01.234Z"


def test_iso_converts_offsets_to_utc():
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2025, 12, 20, 10, 0, tzinfo=paris)) == "2025-12-20T09:00:00.000Z"


@pytest.mark.parametrize("text", ["2025-12-20T09:00:00Z", "2025-12-20T09:00:00.000Z", "2025-12-20T10:00:00+01:00",
                                  "2025-12-20T09:00:00"])
def test_parse_accepts_common_forms(text):
    assert parse_iso(text) == datetime(2025, 12, 20, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "tomorrow", "2025-13-01T00:00:00Z", "12/20/2025"])
def test_parse_rejects_garbage(text):
    with pytest.raises(InvalidTimestamp):
        parse_iso(text)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)))
def test_round_trip_to_the_millisecond(moment):
    truncated = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert parse_iso(iso(moment)) == truncated


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "1899-12-31T23:59:59.999Z",
                                  "3000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00"])
def test_parse_refuses_instants_outside_the_supported_range(text):
    with pytest.raises(TimestampOutOfRange):
        parse_iso(text)
