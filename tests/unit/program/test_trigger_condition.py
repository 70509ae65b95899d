"""Trigger conditions: type date, direction, offset bounds, attribute must be a date attribute."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.errors import ValidationError
from services.program.domain.model import TriggerCondition, TriggerOffset
from services.program.domain.validation import (
    OFFSET_DAYS_MAX,
    check_trigger_attribute,
    check_trigger_condition,
)

offsets = st.builds(TriggerOffset, st.integers(0, OFFSET_DAYS_MAX), st.integers(0, 23), st.integers(0, 59))
slugs = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


@given(slugs, st.sampled_from(["before", "after"]), offsets)
def test_valid_conditions_pass_unchanged(slug, direction, offset):
    condition = TriggerCondition("date", slug, direction, offset)
    assert check_trigger_condition(condition) == condition
    assert TriggerCondition.from_json(condition.to_json()) == condition


@given(st.text(max_size=10).filter(lambda s: s != "date"))
def test_only_date_type(kind):
    with pytest.raises(ValidationError, match=r"^triggerCondition\.type: must be date$"):
        check_trigger_condition(TriggerCondition(kind, "due", "before", TriggerOffset()))


@given(st.text(max_size=10).filter(lambda s: s not in ("before", "after")))
def test_direction(direction):
    with pytest.raises(ValidationError, match=r"^triggerCondition\.direction: must be before or after$"):
        check_trigger_condition(TriggerCondition("date", "due", direction, TriggerOffset()))


@given(st.sampled_from(["days", "hours", "minutes"]), st.data())
def test_offset_parts_out_of_range(part, data):
    high = {"days": OFFSET_DAYS_MAX, "hours": 23, "minutes": 59}[part]
    value = data.draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=high + 1)))
    offset = TriggerOffset(**{part: value})
    with pytest.raises(ValidationError) as err:
        check_trigger_condition(TriggerCondition("date", "due", "after", offset))
    assert err.value.field == f"triggerCondition.offset.{part}"


def test_attribute_must_exist_and_be_a_date():
    condition = TriggerCondition("date", "due", "before", TriggerOffset(2, 15, 0))
    check_trigger_attribute(condition, {"due": "date", "score": "number"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: no custom attribute"):
        check_trigger_attribute(condition, {"score": "number"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: .* type number, not date"):
        check_trigger_attribute(TriggerCondition("date", "score", "before", TriggerOffset()), {"score": "number"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: must not be empty"):
        check_trigger_condition(TriggerCondition("date", " ", "before", TriggerOffset()))
