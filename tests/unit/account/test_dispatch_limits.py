"""Dispatch limits: the bounds of each field, the effective value (stored, else the default), a
change (reset first, then the named fields, the rest kept) and the defaults read from the
environment."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as s

from kernel.errors import ValidationError
from services.account.domain import dispatch_limits
from services.account.domain.dispatch_limits import (
    BUILT_IN_DEFAULTS,
    FIELDS,
    INT32_MAX,
    DispatchLimits,
    LimitsChange,
    StoredLimits,
    apply,
    check_change,
    check_value,
    defaults_from,
    resolve,
)

INT32_MIN = -(2**31)
counts = s.integers(0, INT32_MAX)
weights = s.integers(1, 1000)
limits = s.builds(DispatchLimits, counts, counts, weights)
stored_limits = s.builds(StoredLimits, s.none() | counts, s.none() | counts, s.none() | weights)
changes = s.builds(LimitsChange, s.none() | counts, s.none() | counts, s.none() | weights, s.booleans())


def values(item: DispatchLimits | StoredLimits | LimitsChange) -> tuple[int | None, ...]:
    return item.max_concurrent_calls, item.max_calls_per_second, item.weight


# --- bounds ---------------------------------------------------------------------------------------

@given(counts, counts, weights)
def test_values_in_bounds_are_kept(concurrent, cps, weight):
    limits = DispatchLimits(concurrent, cps, weight)
    assert dispatch_limits.check(limits) is limits
    change = LimitsChange(concurrent, cps, weight)
    assert check_change(change) is change


@pytest.mark.parametrize(("field", "value", "message"), [
    ("maxConcurrentCalls", -1, "maxConcurrentCalls: must be >= 0"),
    ("maxConcurrentCalls", INT32_MIN, "maxConcurrentCalls: must be >= 0"),
    ("maxConcurrentCalls", INT32_MAX + 1, "maxConcurrentCalls: must be at most 2147483647"),
    ("maxCallsPerSecond", -5, "maxCallsPerSecond: must be >= 0"),
    ("weight", 0, "weight: must be between 1 and 1000"),
    ("weight", 1001, "weight: must be between 1 and 1000"),
    ("weight", -3, "weight: must be between 1 and 1000"),
    ("weight", True, "weight: must be an integer"),
    ("maxCallsPerSecond", 2.0, "maxCallsPerSecond: must be an integer"),
])
def test_values_out_of_bounds_name_the_field(field, value, message):
    with pytest.raises(ValidationError) as err:
        check_value(field, value)
    assert err.value.message == message
    assert err.value.field == field


@given(s.integers(INT32_MIN, -1), s.sampled_from([0, 1]))
def test_a_change_is_refused_on_its_first_bad_field_only(bad, slot):
    fields: list[int | None] = [None, None, 0]  # the weight is bad too
    fields[slot] = bad
    with pytest.raises(ValidationError) as err:
        check_change(LimitsChange(*fields))
    assert err.value.field == FIELDS[slot], "fields are checked in order, the weight last"


def test_absent_fields_of_a_change_are_not_checked():
    assert check_change(LimitsChange(reset=True)) == LimitsChange(reset=True)
    with pytest.raises(ValidationError, match="weight: must be between 1 and 1000"):
        check_change(LimitsChange(weight=0, reset=True))


# --- effective value ------------------------------------------------------------------------------

@given(stored_limits, limits)
def test_effective_value_is_the_stored_one_else_the_default(stored, defaults):
    resolved = resolve(stored, defaults)
    for own, default, effective in zip(values(stored), values(defaults), values(resolved.limits), strict=True):
        assert effective == (default if own is None else own)
    assert resolved.defaulted == tuple(f for f, own in zip(FIELDS, values(stored), strict=True) if own is None)


def test_nothing_stored_follows_every_default():
    resolved = resolve(StoredLimits(), DispatchLimits(40, 5, 3))
    assert resolved.limits == DispatchLimits(40, 5, 3)
    assert resolved.defaulted == ("maxConcurrentCalls", "maxCallsPerSecond", "weight")


def test_a_stored_value_equal_to_the_default_is_not_defaulted():
    resolved = resolve(StoredLimits(max_concurrent_calls=0, weight=1), BUILT_IN_DEFAULTS)
    assert resolved.limits == BUILT_IN_DEFAULTS
    assert resolved.defaulted == ("maxCallsPerSecond",)


@given(stored_limits, limits, limits)
def test_changing_a_default_moves_only_the_fields_that_follow_it(stored, before, after):
    old, new = resolve(stored, before), resolve(stored, after)
    assert old.defaulted == new.defaulted
    for field, was, now, own in zip(FIELDS, values(old.limits), values(new.limits), values(stored), strict=True):
        if own is not None:
            assert was == now == own, field


# --- changes --------------------------------------------------------------------------------------

@given(stored_limits, changes)
def test_a_change_resets_first_then_stores_the_named_fields(stored, change):
    after = apply(stored, change)
    for own, new, result in zip(values(stored), values(change), values(after), strict=True):
        if new is not None:
            assert result == new
        else:
            assert result == (None if change.reset else own)


@given(stored_limits, changes, changes)
def test_two_changes_without_reset_compose_field_by_field(stored, first, second):
    first, second = LimitsChange(*values(first)), LimitsChange(*values(second))
    merged = LimitsChange(*(b if b is not None else a for a, b in zip(values(first), values(second), strict=True)))
    assert apply(apply(stored, first), second) == apply(stored, merged)


@given(stored_limits, changes)
def test_a_change_is_idempotent(stored, change):
    once = apply(stored, change)
    assert apply(once, change) == once


def test_examples():
    stored = StoredLimits(max_concurrent_calls=50, weight=4)
    assert apply(stored, LimitsChange(max_calls_per_second=10)) == StoredLimits(50, 10, 4)
    assert apply(stored, LimitsChange(reset=True)) == StoredLimits()
    assert apply(stored, LimitsChange(weight=9, reset=True)) == StoredLimits(weight=9)
    assert apply(stored, LimitsChange()) == stored


# --- defaults from the environment ----------------------------------------------------------------

def reader(env: dict[str, str]):
    return lambda name, fallback: env.get(name) or fallback


def test_defaults_without_environment_are_no_limit_and_weight_one():
    assert defaults_from(reader({})) == BUILT_IN_DEFAULTS == DispatchLimits(0, 0, 1)


@given(limits)
def test_defaults_are_read_from_their_variables(expected):
    env = {"ORG_MAX_CONCURRENT_CALLS": str(expected.max_concurrent_calls),
           "ORG_MAX_CALLS_PER_SECOND": f" {expected.max_calls_per_second} ", "ORG_WEIGHT": str(expected.weight)}
    assert defaults_from(reader(env)) == expected


@pytest.mark.parametrize(("env", "message"), [
    ({"ORG_WEIGHT": "0"}, "ORG_WEIGHT: must be between 1 and 1000 (got '0')"),
    ({"ORG_WEIGHT": "1001"}, "ORG_WEIGHT: must be between 1 and 1000 (got '1001')"),
    ({"ORG_MAX_CONCURRENT_CALLS": "-1"}, "ORG_MAX_CONCURRENT_CALLS: must be >= 0 (got '-1')"),
    ({"ORG_MAX_CALLS_PER_SECOND": "ten"}, "ORG_MAX_CALLS_PER_SECOND: must be an integer (got 'ten')"),
    ({"ORG_MAX_CALLS_PER_SECOND": "2.5"}, "ORG_MAX_CALLS_PER_SECOND: must be an integer (got '2.5')"),
    ({"ORG_MAX_CONCURRENT_CALLS": "2147483648"},
     "ORG_MAX_CONCURRENT_CALLS: must be at most 2147483647 (got '2147483648')"),
])
def test_a_bad_default_names_its_variable(env, message):
    with pytest.raises(ValidationError) as err:
        defaults_from(reader(env))
    assert err.value.message == message
    assert err.value.field == next(iter(env))
