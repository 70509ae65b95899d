"""Trigger conditions: type date, direction, offset bounds, a date attribute of the organization;
triggerAt = attributeValue − offset (before) or + offset (after)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_rules import trigger_condition as tc
from campaign_rules.proto import TriggerConditionMessage as Message
from campaign_rules.proto import TriggerOffsetMessage as OffsetMessage
from campaign_rules.trigger_condition import OFFSET_DAYS_MAX, Offset, TriggerCondition
from kernel.errors import ValidationError

INT32 = (-(2**31), 2**31 - 1)
offsets = st.builds(Offset, st.integers(0, OFFSET_DAYS_MAX), st.integers(0, 23), st.integers(0, 59))
slugs = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
instants = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


def condition(slug: str = "due", direction: str = "before", days: int = 0, hours: int = 0, minutes: int = 0,
              kind: str = "date") -> TriggerCondition:
    return tc.from_proto(Message(type=kind, attribute_name=slug, direction=direction,
                                 offset=OffsetMessage(days=days, hours=hours, minutes=minutes)))


# --- validation ---------------------------------------------------------------------------------

@given(slugs, st.sampled_from(["before", "after"]), offsets)
def test_valid_conditions_pass_unchanged(slug, direction, offset):
    parsed = condition(slug, direction, offset.days, offset.hours, offset.minutes)
    assert parsed == TriggerCondition(slug, direction, offset)
    assert tc.from_json(tc.to_json(parsed)) == parsed
    assert tc.from_proto(tc.to_proto(parsed)) == parsed


@given(st.text(max_size=10).filter(lambda s: s != "date"))
def test_only_date_type(kind):
    with pytest.raises(ValidationError, match=r"^triggerCondition\.type: must be date$"):
        condition(kind=kind)


@given(st.text(max_size=10).filter(lambda s: s not in ("before", "after")))
def test_direction(direction):
    with pytest.raises(ValidationError, match=r"^triggerCondition\.direction: must be before or after$"):
        condition(direction=direction)


@given(st.sampled_from(["days", "hours", "minutes"]), st.data())
def test_offset_parts_out_of_range(part, data):
    high = {"days": OFFSET_DAYS_MAX, "hours": 23, "minutes": 59}[part]
    value = data.draw(st.one_of(st.integers(INT32[0], -1), st.integers(high + 1, INT32[1])))
    with pytest.raises(ValidationError) as err:
        condition(direction="after", **{part: value})
    assert err.value.field == f"triggerCondition.offset.{part}"
    assert str(err.value) == f"triggerCondition.offset.{part}: must be between 0 and {high}"


def test_an_empty_message_is_refused():
    with pytest.raises(ValidationError, match=r"^triggerCondition\.type: must be date$"):
        tc.from_proto(Message())


def test_attribute_must_be_named_exist_and_be_a_date():
    due = condition("due", "before", 2, 15, 0)
    tc.check_attribute(due, {"due": "date", "score": "number"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: no custom attribute 'due' in"):
        tc.check_attribute(due, {"score": "number"})
    with pytest.raises(ValidationError,
                       match=r"^triggerCondition\.attributeName: custom attribute 'score' is of type number, not date$"):
        tc.check_attribute(condition("score"), {"score": "number"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: must not be empty"):
        condition(" ")


# --- evaluation ---------------------------------------------------------------------------------

@given(instants, st.integers(0, 3650), st.integers(0, 23), st.integers(0, 59))
def test_before_subtracts_and_after_adds_the_offset(value, d, h, m):
    before = condition("due", "before", d, h, m)
    after = condition("due", "after", d, h, m)
    delta = timedelta(days=d, hours=h, minutes=m)
    assert before.trigger_at(value) == value - delta
    assert after.trigger_at(value) == value + delta
    assert before.trigger_at(value) <= value <= after.trigger_at(value)
    # The two directions are symmetric around the attribute value.
    assert value - before.trigger_at(value) == after.trigger_at(value) - value


@given(instants, instants, offsets, st.sampled_from(["before", "after"]))
def test_trigger_order_follows_attribute_order(a, b, offset, direction):
    rule = TriggerCondition("due", direction, offset)
    assert (a <= b) == (rule.trigger_at(a) <= rule.trigger_at(b))


def test_zero_offset_fires_at_the_attribute_value():
    value = datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert condition("due", "before").trigger_at(value) == value


def test_spec_example():
    rule = condition("date_echeance", "before", 2, 15, 0)
    assert rule.trigger_at(datetime(2026, 3, 20, 10, tzinfo=UTC)) == datetime(2026, 3, 17, 19, tzinfo=UTC)


def test_out_of_range_result_is_none():
    assert condition("due", "after", 10).trigger_at(datetime.max.replace(tzinfo=UTC)) is None
    assert condition("due", "before", 10).trigger_at(datetime.min.replace(tzinfo=UTC)) is None
