"""Calling hours as a program gives them: presets resolved, custom windows checked field by field
(the first failure named in API terms), and one stored form whichever way they came in."""

from datetime import time

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as s

from campaign_rules import calling_hours
from campaign_rules.calling_hours import CUSTOM, FR_2023, PRESETS, US_TCPA, CallingHours, Window
from campaign_rules.pause_windows import WEEKDAYS
from campaign_rules.proto import CallingHoursMessage as Message
from campaign_rules.proto import CallingWindowsMessage as Week
from campaign_rules.proto import PauseWindowItemMessage as Item
from campaign_rules.proto import TimeOfDayMessage as TimeOfDay
from kernel.errors import ValidationError

NINE_TO_FIVE = Item(start_at=TimeOfDay(hour=9), end_at=TimeOfDay(hour=17))


def refused(message: Message) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        calling_hours.from_proto(message)
    return err.value


# --- presets --------------------------------------------------------------------------------------

def test_us_tcpa_resolves_to_every_day_eight_to_nine():
    hours = calling_hours.from_proto(Message(preset=US_TCPA))
    assert hours == CallingHours(US_TCPA)
    assert list(hours.windows) == list(WEEKDAYS)
    assert all(hours.on(day) == (Window(time(8), time(21)),) for day in WEEKDAYS)


def test_fr_2023_resolves_to_weekdays_with_a_lunch_break():
    hours = calling_hours.from_proto(Message(preset=FR_2023))
    assert list(hours.windows) == list(WEEKDAYS[:5])
    assert hours.on("wednesday") == (Window(time(10), time(13)), Window(time(14), time(20)))
    assert hours.on("saturday") == hours.on("sunday") == ()


@pytest.mark.parametrize("preset", [US_TCPA, FR_2023])
def test_a_preset_refuses_windows_even_empty(preset):
    err = refused(Message(preset=preset, windows=Week(monday=[NINE_TO_FIVE])))
    assert str(err) == f"callingHours.windows: must not be set for preset {preset} (its windows are fixed)"
    empty = Message(preset=preset)
    empty.windows.SetInParent()
    assert refused(empty).field == "callingHours.windows"


@pytest.mark.parametrize("preset", ["", "eu_gdpr", "US_TCPA"])
def test_unknown_preset(preset):
    err = refused(Message(preset=preset, windows=Week(monday=[NINE_TO_FIVE])))
    assert str(err) == "callingHours.preset: must be one of us_tcpa, fr_2023, custom"
    assert err.field == "callingHours.preset"


# --- custom ---------------------------------------------------------------------------------------

def test_custom_keeps_its_windows_monday_first():
    message = Message(preset=CUSTOM, windows=Week(sunday=[NINE_TO_FIVE], monday=[
        Item(start_at=TimeOfDay(hour=20), end_at=TimeOfDay(hour=2, minute=30)), NINE_TO_FIVE]))
    hours = calling_hours.from_proto(message)
    assert list(hours.windows) == ["monday", "sunday"]
    assert hours.on("monday") == (Window(time(20), time(2, 30)), Window(time(9), time(17)))


def test_custom_needs_windows_and_at_least_one():
    assert str(refused(Message(preset=CUSTOM))) == "callingHours.windows: is required for preset custom"
    empty = Message(preset=CUSTOM)
    empty.windows.SetInParent()
    assert str(refused(empty)) == "callingHours.windows: must hold at least one window"


@pytest.mark.parametrize(("item", "message"), [
    (Item(start_at=TimeOfDay(hour=24), end_at=TimeOfDay(hour=2)),
     "callingHours.windows.tuesday[1].startAt.hour: must be between 0 and 23"),
    (Item(start_at=TimeOfDay(hour=-1), end_at=TimeOfDay(hour=2)),
     "callingHours.windows.tuesday[1].startAt.hour: must be between 0 and 23"),
    (Item(start_at=TimeOfDay(hour=8), end_at=TimeOfDay(hour=9, minute=60)),
     "callingHours.windows.tuesday[1].endAt.minute: must be between 0 and 59"),
    (Item(start_at=TimeOfDay(hour=8, minute=30), end_at=TimeOfDay(hour=8, minute=30)),
     "callingHours.windows.tuesday[1].endAt: must differ from startAt"),
])
def test_bad_window_names_its_place(item, message):
    err = refused(Message(preset=CUSTOM, windows=Week(tuesday=[NINE_TO_FIVE, item])))
    assert str(err) == message
    assert err.field == message.split(":")[0]


def test_values_built_in_code_keep_the_same_rules():
    with pytest.raises(ValidationError, match=r"^callingHours\.windows\.caturday: unknown weekday"):
        CallingHours(CUSTOM, {"caturday": (Window(time(9), time(17)),)})
    with pytest.raises(ValidationError, match=r"^callingHours\.preset: must be one of"):
        CallingHours("everywhere")
    with pytest.raises(ValidationError, match=r"^callingHours\.windows: must hold at least one window$"):
        CallingHours(CUSTOM, {"monday": ()})
    with pytest.raises(ValidationError, match=r"^callingHours\.windows: must not be set for preset us_tcpa"):
        CallingHours(US_TCPA, {"monday": (Window(time(9), time(17)),)})
    assert CallingHours(US_TCPA, CallingHours(US_TCPA).windows) == CallingHours(US_TCPA)


# --- one stored form ------------------------------------------------------------------------------

times = s.builds(TimeOfDay, hour=s.integers(0, 23), minute=s.integers(0, 59))
items = s.builds(Item, start_at=times, end_at=times).filter(
    lambda w: (w.start_at.hour, w.start_at.minute) != (w.end_at.hour, w.end_at.minute))


@s.composite
def messages(draw) -> Message:
    preset = draw(s.sampled_from(PRESETS))
    if preset != CUSTOM:
        return Message(preset=preset)
    days = draw(s.dictionaries(s.sampled_from(WEEKDAYS), s.lists(items, min_size=1, max_size=3), min_size=1))
    return Message(preset=CUSTOM, windows=Week(**days))


@given(messages())
def test_one_stored_form(message):
    hours = calling_hours.from_proto(message)
    assert calling_hours.from_json(calling_hours.to_json(hours)) == hours
    assert calling_hours.from_proto(calling_hours.to_proto(hours)) == hours
    # Through protobuf's JSON printer (camelCase, zeros left out) too.
    assert calling_hours.from_json(json_format.MessageToDict(calling_hours.to_proto(hours))) == hours
    assert hash(calling_hours.from_json(calling_hours.to_json(hours))) == hash(hours)


def test_stored_form_is_the_api_shape():
    assert calling_hours.to_json(CallingHours(FR_2023)) == {"preset": "fr_2023"}
    hours = CallingHours(CUSTOM, {"friday": (Window(time(20), time(2)),)})
    assert calling_hours.to_json(hours) == {"preset": "custom", "windows": {"friday": [
        {"startAt": {"hour": 20, "minute": 0}, "endAt": {"hour": 2, "minute": 0}}]}}
    assert calling_hours.from_json(None) is None and calling_hours.from_json({}) is None
