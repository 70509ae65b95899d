import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel import errors
from kernel.timefmt import iso, parse_iso
from services.audience.domain.attributes import define, validate_value

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                         st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                             max_size=2))


@given(st.booleans())
def test_booleans(value):
    assert validate_value("boolean", value, "attributes.vip") is value


@given(json_scalars.filter(lambda v: not isinstance(v, bool)))
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(errors.ValidationError, match=r"^attributes\.vip: expected a boolean"):
        validate_value("boolean", value, "attributes.vip")


@given(st.one_of(st.integers(min_value=-(2**53), max_value=2**53), st.floats(allow_nan=False, allow_infinity=False)))
def test_numbers_keep_their_value_and_integral_floats_become_ints(value):
    stored = validate_value("number", value, "attributes.amount")
    assert stored == value
    if float(value).is_integer() and abs(value) <= 2**53:
        assert isinstance(stored, int)


@given(st.one_of(st.booleans(), st.text(max_size=5), st.none(), st.sampled_from([math.inf, -math.inf, math.nan])))
def test_non_numbers_are_refused(value):
    with pytest.raises(errors.ValidationError, match=r"^attributes\.amount:"):
        validate_value("number", value, "attributes.amount")


@given(st.text(max_size=100))
def test_text(value):
    assert validate_value("text", value, "attributes.notes") == value


@given(st.one_of(st.integers(), st.booleans(), st.floats()))
def test_text_must_be_a_string(value):
    with pytest.raises(errors.ValidationError, match=r"^attributes\.notes: expected a string"):
        validate_value("text", value, "attributes.notes")


moments = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]))


@given(moments)
def test_date_times_are_stored_as_utc_milliseconds(moment):
    stored = validate_value("date", moment.isoformat(), "attributes.due")
    assert stored == iso(moment)
    assert len(stored) == len("2026-03-20T00:00:00.000Z") and stored.endswith("Z")
    assert abs(parse_iso(stored) - moment) < timedelta(milliseconds=1)
    # Normalising twice changes nothing.
    assert validate_value("date", stored, "attributes.due") == stored


@given(st.dates(min_value=datetime(1900, 1, 1).date(), max_value=datetime(2999, 12, 31).date()))
def test_bare_dates_are_midnight_utc(day):
    assert validate_value("date", day.isoformat(), "attributes.due") == f"{day.isoformat()}T00:00:00.000Z"


@pytest.mark.parametrize("value", ["tomorrow", "20/03/2026", "2026-13-01", "2026-02-30", "", "2026", 20260320, True])
def test_bad_dates(value):
    with pytest.raises(errors.ValidationError, match=r"^attributes\.due:"):
        validate_value("date", value, "attributes.due")


def test_define_derives_and_checks():
    assert define("Due date", "", "date").slug == "due_date"
    assert define("Due date", "custom_slug", "date").slug == "custom_slug"
    for name, slug, type_, field in [("", "", "date", "name"), ("x", "", "colour", "type"),
                                     ("x", "Bad Slug", "text", "slug"), ("???", "", "text", "slug")]:
        with pytest.raises(errors.ValidationError) as caught:
            define(name, slug, type_)
        assert caught.value.field == field
