"""Every rule in its one stored form: a value written and read back is the same value, whichever
way it came in (the program proto, the JSON stored), and rows stored before this form was the
only one (protobuf's JSON printer: camelCase, fields at zero left out) read as the same rules."""

from datetime import UTC, datetime

from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from campaign_rules import auto_pause, pause_windows, retry, trigger_condition
from campaign_rules.proto import (
    AutoPauseRuleMessage,
    AutoPauseRulesMessage,
    PauseWindowAdvancedItemMessage,
    PauseWindowItemMessage,
    PauseWindowsMessage,
    RetryStrategyMessage,
    TimeOfDayMessage,
    TriggerConditionMessage,
    TriggerOffsetMessage,
)
from kernel.timefmt import iso

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
times = st.builds(TimeOfDayMessage, hour=st.integers(0, 23), minute=st.integers(0, 59))
weekly_items = st.builds(PauseWindowItemMessage, start_at=times, end_at=times).filter(
    lambda w: (w.start_at.hour, w.start_at.minute) != (w.end_at.hour, w.end_at.minute))


@st.composite
def advanced_items(draw) -> PauseWindowAdvancedItemMessage:
    a, b = draw(instants), draw(instants)
    start, end = min(a, b), max(a, b)
    if iso(start) == iso(end):
        end = end.replace(year=end.year + 1)
    return PauseWindowAdvancedItemMessage(start_at=start.isoformat(), end_at=end.isoformat())


@st.composite
def pause_window_messages(draw) -> PauseWindowsMessage:
    days = draw(st.dictionaries(st.sampled_from(pause_windows.WEEKDAYS), st.lists(weekly_items, max_size=3)))
    return PauseWindowsMessage(**days, advanced=draw(st.lists(advanced_items(), max_size=3)))


@st.composite
def retry_messages(draw) -> RetryStrategyMessage:
    kind = draw(st.sampled_from(retry.TYPES))
    if kind == retry.FIXED_DELAY:
        return RetryStrategyMessage(type=kind, delay_minutes=draw(st.integers(1, 10080)),
                                    max_retries=draw(st.integers(0, 20)))
    if kind == retry.SCHEDULED:
        dates = sorted(draw(st.lists(instants, min_size=1, max_size=20, unique_by=iso)))
        return RetryStrategyMessage(type=kind, retry_dates=[iso(d) for d in dates])
    return RetryStrategyMessage(type=kind)


rule_messages = st.builds(
    AutoPauseRulesMessage,
    rules=st.lists(st.builds(AutoPauseRuleMessage, node_id=st.from_regex(r"node_[a-z0-9]{1,6}", fullmatch=True),
                             threshold=st.integers(1, 1000), reset_on_resume=st.booleans()),
                   max_size=4, unique_by=lambda r: r.node_id))
condition_messages = st.builds(
    TriggerConditionMessage, type=st.just("date"), attribute_name=st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True),
    direction=st.sampled_from(["before", "after"]),
    offset=st.builds(TriggerOffsetMessage, days=st.integers(0, 3650), hours=st.integers(0, 23),
                     minutes=st.integers(0, 59)))


def printed(message) -> dict:
    """What executions stored until now: the program's answer through protobuf's JSON printer,
    camelCase, zeros left out."""
    return json_format.MessageToDict(message, preserving_proto_field_name=False)


@given(pause_window_messages())
def test_pause_windows_one_form(message):
    windows = pause_windows.from_proto(message)
    assert pause_windows.from_json(pause_windows.to_json(windows)) == windows
    assert pause_windows.from_proto(pause_windows.to_proto(windows)) == windows
    assert pause_windows.from_json(printed(pause_windows.to_proto(windows))) == windows


@given(retry_messages())
def test_retry_one_form(message):
    strategy = retry.from_proto(message)
    assert retry.from_json(retry.to_json(strategy)) == strategy
    assert retry.from_proto(retry.to_proto(strategy)) == strategy
    assert retry.from_json(printed(retry.to_proto(strategy)) or {"type": "none"}) == strategy


@given(rule_messages)
def test_auto_pause_one_form(message):
    rules = auto_pause.from_proto(message)
    assert auto_pause.from_json(auto_pause.to_json(rules)) == rules
    assert auto_pause.from_proto(auto_pause.to_proto(rules)) == rules
    assert auto_pause.from_json(printed(auto_pause.to_proto(rules)).get("rules", [])) == rules


@given(condition_messages)
def test_trigger_condition_one_form(message):
    condition = trigger_condition.from_proto(message)
    assert trigger_condition.from_json(trigger_condition.to_json(condition)) == condition
    assert trigger_condition.from_proto(trigger_condition.to_proto(condition)) == condition
    assert trigger_condition.from_json(printed(trigger_condition.to_proto(condition))) == condition


@given(pause_window_messages(), instants)
def test_a_rule_read_from_either_form_decides_the_same(message, now):
    """The orchestrator may read a row written before or after the switch: same pause decisions."""
    answered = pause_windows.from_proto(message)
    new = pause_windows.from_json(pause_windows.to_json(answered))
    old = pause_windows.from_json(printed(pause_windows.to_proto(answered)))
    for zone in ("UTC", "Europe/Paris", "America/New_York"):
        assert pause_windows.is_paused(new, zone, now) == pause_windows.is_paused(old, zone, now)
        assert pause_windows.next_start(new, zone, now) == pause_windows.next_start(old, zone, now)
