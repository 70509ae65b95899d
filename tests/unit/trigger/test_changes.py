"""The contact change → trigger action decision table."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.trigger.domain.changes import ABSENT, CANCEL, NOTHING, Action, Kind, decide, read_value

dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
maybe_dates = st.none() | dates
changes = st.just(ABSENT) | st.none() | dates


@given(maybe_dates, maybe_dates)
def test_deleting_cancels_only_a_pending_trigger(pending, fired):
    expected = CANCEL if pending is not None else NOTHING
    for change in (ABSENT, None, datetime(2030, 1, 1, tzinfo=UTC)):
        assert decide(True, change, pending, fired) == expected


@given(maybe_dates, maybe_dates)
def test_unrelated_change_does_nothing(pending, fired):
    assert decide(False, ABSENT, pending, fired) == NOTHING


@given(maybe_dates, maybe_dates)
def test_removing_the_value_cancels_the_pending_trigger(pending, fired):
    assert decide(False, None, pending, fired) == (CANCEL if pending is not None else NOTHING)


@given(dates, dates, maybe_dates)
def test_new_value_moves_the_pending_trigger(pending, value, fired):
    action = decide(False, value, pending, fired)
    assert action == (NOTHING if value == pending else Action(Kind.MOVE, value))


@given(dates, maybe_dates)
def test_value_without_pending_trigger_creates_one_unless_it_already_fired(value, fired):
    action = decide(False, value, None, fired)
    assert action == (NOTHING if fired == value else Action(Kind.CREATE, value))


@given(st.booleans(), changes, maybe_dates, maybe_dates)
def test_applying_the_outcome_again_changes_nothing(deleted, change, pending, fired):
    """Redelivery: once an action is applied, the same event decides nothing more."""
    action = decide(deleted, change, pending, fired)
    if action.kind is Kind.CANCEL:
        after_pending = None
    elif action.kind in (Kind.MOVE, Kind.CREATE):
        after_pending = action.value
    else:
        after_pending = pending
    assert decide(deleted, change, after_pending, fired) == NOTHING


@given(st.booleans(), changes, maybe_dates, maybe_dates)
def test_actions_are_consistent_with_state(deleted, change, pending, fired):
    action = decide(deleted, change, pending, fired)
    if pending is None:
        assert action.kind in (Kind.NOTHING, Kind.CREATE)
    else:
        assert action.kind in (Kind.NOTHING, Kind.MOVE, Kind.CANCEL)


def test_read_value():
    assert read_value("2026-03-20T10:00:00.000Z") == datetime(2026, 3, 20, 10, tzinfo=UTC)
    assert read_value("2026-03-20T10:00:00+02:00") == datetime(2026, 3, 20, 8, tzinfo=UTC)
    assert read_value(None) is None
    assert read_value("not a date") is None
    assert read_value(12.0) is None
    assert read_value(True) is None
