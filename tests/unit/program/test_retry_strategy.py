"""Retry strategies: bounds of fixed_delay, ordering of scheduled dates, normalisation."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from kernel.timefmt import iso
from services.program.domain.model import RetryStrategy
from services.program.domain.validation import check_retry_strategy

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                        timezones=st.just(UTC))


@given(st.integers(1, 10080), st.integers(0, 20))
def test_fixed_delay_in_bounds_is_kept(delay, retries):
    out = check_retry_strategy(RetryStrategy("fixed_delay", delay, retries))
    assert out.to_json() == {"type": "fixed_delay", "delayMinutes": delay, "maxRetries": retries}


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=10081)), st.integers(0, 20))
def test_fixed_delay_out_of_bounds_names_delay(delay, retries):
    with pytest.raises(ValidationError) as err:
        check_retry_strategy(RetryStrategy("fixed_delay", delay, retries))
    assert str(err.value) == "retryStrategy.delayMinutes: must be between 1 and 10080"
    assert err.value.field == "retryStrategy.delayMinutes"


@given(st.integers(1, 10080), st.one_of(st.integers(max_value=-1), st.integers(min_value=21)))
def test_fixed_delay_retries_out_of_bounds(delay, retries):
    with pytest.raises(ValidationError, match=r"^retryStrategy\.maxRetries: must be between 0 and 20$"):
        check_retry_strategy(RetryStrategy("fixed_delay", delay, retries))


@given(st.lists(instants, min_size=1, max_size=20, unique_by=lambda d: d.replace(microsecond=0)))
def test_strictly_increasing_dates_are_accepted_and_normalised(dates):
    dates = sorted(d.replace(microsecond=0) for d in dates)
    raw = tuple(d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in dates)
    out = check_retry_strategy(RetryStrategy("scheduled", retry_dates=raw))
    assert out.retry_dates == tuple(iso(d) for d in dates)
    assert out.to_json() == {"type": "scheduled", "retryDates": list(out.retry_dates)}


@given(st.lists(instants, min_size=2, max_size=20), st.data())
def test_a_date_not_after_its_predecessor_is_refused(dates, data):
    dates = sorted(dates)
    i = data.draw(st.integers(1, len(dates) - 1))
    dates[i] = dates[i - 1] - timedelta(seconds=data.draw(st.integers(0, 3600)))
    with pytest.raises(ValidationError) as err:
        check_retry_strategy(RetryStrategy("scheduled", retry_dates=tuple(iso(d) for d in dates)))
    assert err.value.field.startswith("retryStrategy.retryDates[")


@given(st.integers(21, 40))
def test_too_many_dates(count):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    dates = tuple(iso(base + timedelta(hours=h)) for h in range(count))
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates: must hold between 1 and 20"):
        check_retry_strategy(RetryStrategy("scheduled", retry_dates=dates))


def test_no_dates_and_bad_dates_and_bad_type():
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates: "):
        check_retry_strategy(RetryStrategy("scheduled"))
    with pytest.raises(ValidationError, match=r"^retryStrategy\.retryDates\[1\]: must be an ISO 8601"):
        check_retry_strategy(RetryStrategy("scheduled", retry_dates=("2026-01-01T00:00:00Z", "soon")))
    with pytest.raises(ValidationError, match=r"^retryStrategy\.type: "):
        check_retry_strategy(RetryStrategy("exponential"))
    with pytest.raises(ValidationError, match=r"^retryStrategy: is required"):
        check_retry_strategy(None)


@given(st.integers(), st.integers())
def test_none_keeps_only_its_type(delay, retries):
    assert check_retry_strategy(RetryStrategy("none", delay, retries)).to_json() == {"type": "none"}
