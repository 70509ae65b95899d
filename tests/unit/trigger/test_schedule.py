"""triggerAt = attributeValue − offset (before) or + offset (after)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from services.trigger.domain.schedule import Condition

instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.just(UTC))
days = st.integers(0, 3650)
hours = st.integers(0, 23)
minutes = st.integers(0, 59)


@given(instants, days, hours, minutes)
def test_before_subtracts_and_after_adds_the_offset(value, d, h, m):
    before = Condition.create("due", "before", d, h, m)
    after = Condition.create("due", "after", d, h, m)
    delta = timedelta(days=d, hours=h, minutes=m)
    assert before.trigger_at(value) == value - delta
    assert after.trigger_at(value) == value + delta
    assert before.trigger_at(value) <= value <= after.trigger_at(value)
    # The two directions are symmetric around the attribute value.
    assert value - before.trigger_at(value) == after.trigger_at(value) - value


@given(instants, instants, days, hours, minutes, st.sampled_from(["before", "after"]))
def test_trigger_order_follows_attribute_order(a, b, d, h, m, direction):
    condition = Condition.create("due", direction, d, h, m)
    assert (a <= b) == (condition.trigger_at(a) <= condition.trigger_at(b))


def test_zero_offset_fires_at_the_attribute_value():
    value = datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert Condition.create("due", "before", 0, 0, 0).trigger_at(value) == value


def test_spec_example():
    condition = Condition.create("date_echeance", "before", 2, 15, 0)
    assert condition.trigger_at(datetime(2026, 3, 20, 10, tzinfo=UTC)) == datetime(2026, 3, 17, 19, tzinfo=UTC)


def test_out_of_range_result_is_none():
    condition = Condition.create("due", "after", 10, 0, 0)
    assert condition.trigger_at(datetime.max.replace(tzinfo=UTC)) is None


@pytest.mark.parametrize(("args", "field"), [
    (("", "before", 0, 0, 0), "triggerCondition.attributeName"),
    (("due", "around", 0, 0, 0), "triggerCondition.direction"),
    (("due", "before", -1, 0, 0), "triggerCondition.offset.days"),
    (("due", "before", 0, 24, 0), "triggerCondition.offset.hours"),
    (("due", "after", 0, 0, 60), "triggerCondition.offset.minutes"),
    (("due", "after", 0, -1, 0), "triggerCondition.offset.hours"),
])
def test_invalid_conditions_name_the_field(args, field):
    with pytest.raises(ValidationError) as caught:
        Condition.create(*args)
    assert caught.value.field == field


def test_only_date_conditions():
    with pytest.raises(ValidationError):
        Condition.create("due", "before", 0, 0, 0, kind="number")
