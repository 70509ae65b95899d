"""Contact limits: the bounds of the setting, and the rolling window — attempts taken only when
`decide` allows never exceed maxAttempts in any window, and a deferral is exactly the first
instant at which one more attempt may be taken."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as s

from campaign_rules import contact_limits
from campaign_rules.contact_limits import ContactLimits, decide, window
from kernel.errors import ValidationError

INT32 = (-(2**31), 2**31 - 1)
START = datetime(2026, 3, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)

small_limits = s.builds(ContactLimits, max_attempts=s.integers(1, 5), per_days=s.integers(1, 3))
# Offsets from START up to ten days, at microsecond resolution, with many near-collisions.
offsets = s.one_of(s.integers(0, 10 * 86_400 * 10**6), s.integers(0, 20).map(lambda d: d * 86_400 * 10**6))


def at(micros: int) -> datetime:
    return START + timedelta(microseconds=micros)


# --- validation ---------------------------------------------------------------------------------

@given(s.integers(1, 1000), s.integers(1, 365))
def test_limits_in_bounds_are_kept(max_attempts, per_days):
    limits = ContactLimits(max_attempts, per_days)
    assert contact_limits.check(limits) is limits
    assert window(limits) == timedelta(days=per_days)


@given(s.one_of(s.integers(INT32[0], 0), s.integers(1001, INT32[1])), s.integers(1, 365))
def test_max_attempts_out_of_bounds_names_the_field(max_attempts, per_days):
    with pytest.raises(ValidationError) as err:
        contact_limits.check(ContactLimits(max_attempts, per_days))
    assert str(err.value) == "maxAttempts: must be between 1 and 1000"
    assert err.value.field == "maxAttempts"


@given(s.integers(1, 1000), s.one_of(s.integers(INT32[0], 0), s.integers(366, INT32[1])))
def test_per_days_out_of_bounds_names_the_field(max_attempts, per_days):
    with pytest.raises(ValidationError, match=r"^perDays: must be between 1 and 365$"):
        contact_limits.check(ContactLimits(max_attempts, per_days))


@pytest.mark.parametrize("bad", [True, 4.0, "4", None])
def test_limits_must_be_integers(bad):
    with pytest.raises(ValidationError, match=r"^maxAttempts: must be an integer$"):
        contact_limits.check(ContactLimits(bad, 30))
    with pytest.raises(ValidationError, match=r"^perDays: must be an integer$"):
        contact_limits.check(ContactLimits(4, bad))


# --- the rolling window ---------------------------------------------------------------------------

@given(small_limits, s.lists(offsets, max_size=60))
def test_taking_only_when_allowed_never_exceeds_the_cap_in_any_window(limits, asks):
    taken: list[datetime] = []
    for now in sorted(map(at, asks)):
        if decide(limits, taken, now) is None:
            taken.append(now)
    length = window(limits)
    # The fullest window of that length ends at a taken attempt.
    for end in taken:
        assert sum(1 for t in taken if end - length < t <= end) <= limits.max_attempts


@given(small_limits, s.lists(offsets, max_size=60))
def test_every_ask_is_taken_or_deferred_to_a_later_take(limits, asks):
    """Asking again at the deferral instant always succeeds: a deferred contact is never starved."""
    taken: list[datetime] = []
    for now in sorted(map(at, asks)):
        later = decide(limits, taken, now)
        if later is None:
            taken.append(now)
        else:
            assert later > now
            assert decide(limits, taken, later) is None


@given(small_limits, s.lists(offsets, max_size=12), offsets)
def test_the_deferral_is_exactly_when_taking_becomes_possible(limits, counted_at, now_at):
    counted = [at(m) for m in counted_at]
    now = at(now_at)
    later = decide(limits, counted, now)
    matter = [t for t in counted if t > now - window(limits)]
    if later is None:
        assert len(matter) < limits.max_attempts
        return
    assert len(matter) >= limits.max_attempts
    assert later > now
    assert later - window(limits) in counted  # the instant a counted attempt leaves the window
    assert decide(limits, counted, later) is None
    # Fewer attempts matter as time passes, so the instant just before is still refused.
    assert decide(limits, counted, later - TICK) is not None


def test_the_window_is_half_open_at_its_start():
    limits = ContactLimits(max_attempts=2, per_days=1)
    first, second = START, START + timedelta(hours=5)
    assert decide(limits, [first], START) is None
    assert decide(limits, [first, second], second) == first + timedelta(days=1)
    assert decide(limits, [first, second], first + timedelta(days=1) - TICK) == first + timedelta(days=1)
    assert decide(limits, [first, second], first + timedelta(days=1)) is None


def test_more_counted_than_the_cap_waits_for_enough_to_leave():
    """Limits lowered after attempts were counted: every surplus attempt must leave first."""
    limits = ContactLimits(max_attempts=2, per_days=30)
    counted = [START + timedelta(days=d) for d in (0, 1, 2, 3)]
    assert decide(limits, counted, START + timedelta(days=4)) == START + timedelta(days=32)


def test_an_attempt_stamped_after_now_counts():
    limits = ContactLimits(max_attempts=1, per_days=1)
    ahead = START + timedelta(milliseconds=3)
    assert decide(limits, [ahead], START) == ahead + timedelta(days=1)

