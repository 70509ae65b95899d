"""The rule columns of an execution row: written in campaign_rules' stored form, read back as the
same values; rows written by the previous version (protobuf's JSON printer: zeros left out) read as
the same rules; NULL stays distinct from present; the API shows the rules as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

from google.protobuf import json_format

from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.pause_windows import PauseWindows, WeeklyWindow
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import Offset, TriggerCondition
from outbound.program.v1 import program_pb2
from services.execution.adapters.executions import ExecutionRow, execution_row, locked_execution, rule_columns
from services.execution.entrypoints.mapping import to_proto

NOW = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)
ID = "e1d9c1de-0000-4000-8000-000000000000"

# As the previous version stored them: the program's answer through MessageToDict.
OLD_RULES = {
    "retry_strategy": {"type": "fixed_delay", "delayMinutes": 30},
    "pause_windows": {"monday": [{"startAt": {"hour": 12}, "endAt": {"hour": 14, "minute": 30}}],
                      "advanced": [{"startAt": "2025-12-25T00:00:00Z", "endAt": "2025-12-26T00:00:00Z"}]},
    "auto_pause_rules": [{"nodeId": "menu", "threshold": 3}, {"nodeId": "bye", "threshold": 1, "resetOnResume": True}],
    "trigger_condition": {"type": "date", "attributeName": "due", "direction": "before"},
}


def stored(**rules) -> dict:
    """An executions row as the database answers it (JSONB decoded)."""
    return {
        "id": ID, "organization_id": "org", "program_id": "p", "audience_id": "a", "flow_id": "f", "mode": "live",
        "status": "running", "timezone": "UTC", "did_pool": ["d"], "max_concurrent_calls": 1, "total_contacts": 0,
        "contacts_completed": 0, "contacts_failed": 0, "contacts_pending": 0, "contacts_in_progress": 0,
        "contacts_skipped": 0, "scheduled_start_at": NOW, "scheduled_stop_at": None, "actual_start_at": NOW,
        "actual_end_at": None, "created_at": NOW, "updated_at": NOW,
        "retry_strategy": {"type": "none"}, "pause_windows": None, "auto_pause_rules": None,
        "trigger_condition": None, "calling_hours": None, "contacts_skipped_dnc": 0, "answering_machine": None,
        **rules}


def rewritten(row: ExecutionRow) -> ExecutionRow:
    """Written as the repository writes it, then read back."""
    columns = {k: None if v is None else json.loads(v) for k, v in rule_columns(row).items()}
    return execution_row(stored(**columns))


def test_rows_of_the_previous_version_read_as_the_same_rules():
    row = execution_row(stored(**OLD_RULES))
    assert row.retry_strategy == RetryStrategy("fixed_delay", 30, 0)
    assert row.pause_windows is not None
    assert row.pause_windows.on("monday") == (WeeklyWindow(time(12, 0), time(14, 30)),)
    assert [(w.start, w.end) for w in row.pause_windows.advanced] == [
        (datetime(2025, 12, 25, tzinfo=UTC), datetime(2025, 12, 26, tzinfo=UTC))]
    assert row.auto_pause_rules == (AutoPauseRule("menu", 3, False), AutoPauseRule("bye", 1, True))
    assert row.trigger_condition == TriggerCondition("due", "before", Offset())
    assert rewritten(row) == row
    locked = locked_execution((ID, "running", OLD_RULES["retry_strategy"], OLD_RULES["auto_pause_rules"]))
    assert (locked.retry_strategy, locked.auto_pause_rules) == (row.retry_strategy, row.auto_pause_rules)


def test_null_stays_distinct_from_empty():
    none = execution_row(stored())
    assert (none.pause_windows, none.auto_pause_rules, none.trigger_condition) == (None, None, None)
    assert rule_columns(none) == {"retry_strategy": '{"type": "none"}', "pause_windows": None,
                                  "auto_pause_rules": None, "trigger_condition": None, "calling_hours": None,
                                  "answering_machine": None}
    empty = execution_row(stored(pause_windows={}, auto_pause_rules=[]))
    assert empty.pause_windows == PauseWindows() and empty.auto_pause_rules == ()
    assert rewritten(empty) == empty
    assert not to_proto(none).HasField("auto_pause_rules")
    assert to_proto(empty).HasField("auto_pause_rules") and list(to_proto(empty).auto_pause_rules.rules) == []


def test_the_api_shows_the_rules_as_before():
    row = execution_row(stored(**OLD_RULES))
    before = json_format.ParseDict({"rules": OLD_RULES["auto_pause_rules"]}, program_pb2.AutoPauseRules())
    assert to_proto(row).auto_pause_rules == before
    assert to_proto(rewritten(row)).auto_pause_rules == before
