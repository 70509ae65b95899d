"""Event ids, envelopes and the translation of source messages into events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import events_pb2 as execution_events
from services.webhooks.domain import events
from services.webhooks.entrypoints.mapping import call_events, status_changed_events

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def change(status: str, seq: int = 3) -> execution_events.ExecutionStatusChanged:
    msg = execution_events.ExecutionStatusChanged(seq=seq, execution_id="e-1", program_id="p-1", organization_id="o-1",
                                                  previous_status="running", status=status,
                                                  occurred_at="2026-01-05T10:00:00.000Z")
    msg.execution.id, msg.execution.status, msg.execution.contacts_completed = "e-1", status, 4
    return msg


def test_the_same_message_makes_the_same_ids_and_bytes():
    first, again = status_changed_events(change("completed"), NOW), status_changed_events(change("completed"), NOW)
    assert [e.id for e in first] == [e.id for e in again]
    assert [events.envelope(e) for e in first] == [events.envelope(e) for e in again]
    assert len({e.id for e in first}) == 2  # status_changed and finished: one id per type
    assert status_changed_events(change("completed", seq=4), NOW)[0].id != first[0].id


@pytest.mark.parametrize(("status", "types"), [
    ("running", ["execution.status_changed"]), ("paused_threshold", ["execution.status_changed"]),
    ("completed", ["execution.status_changed", "execution.finished"]),
    ("stopped", ["execution.status_changed", "execution.finished"]),
    ("cancelled", ["execution.status_changed", "execution.finished"]),
])
def test_only_terminal_changes_finish(status, types):
    assert [e.type for e in status_changed_events(change(status), NOW)] == types


def test_the_envelope_and_the_status_change_data():
    event = status_changed_events(change("completed"), NOW)[0]
    body = json.loads(events.envelope(event))
    assert set(body) == {"id", "type", "createdAt", "data"}
    assert body["createdAt"] == "2026-01-05T10:00:00.000Z"
    data = body["data"]
    assert data["previousStatus"] == "running" and data["status"] == "completed" and data["executionId"] == "e-1"
    assert data["execution"]["contactsCompleted"] == 4 and data["execution"]["status"] == "completed"


def test_a_call_and_its_opt_out():
    result = dialer_events.CallResult(attempt_id="e-1:c-1:2", execution_id="e-1", organization_id="o-1",
                                      contact_id="c-1", attempt=2, outcome="answered", phone="+212600000001",
                                      ended_at="2026-01-05T10:01:00.000Z", talk_seconds=30, sip_code=200,
                                      opted_out=True)
    call, opted = call_events(result, NOW)
    assert call.type == "call.completed" and opted.type == "contact.opted_out"
    assert call.data["sipCode"] == 200 and call.data["q850Cause"] is None and call.data["didNumber"] is None
    assert opted.data == {"phone": "+212600000001", "executionId": "e-1", "contactId": "c-1",
                          "occurredAt": "2026-01-05T10:01:00.000Z"}
    assert [e.type for e in call_events(dialer_events.CallResult(attempt_id="a", outcome="busy"), NOW)] == \
        ["call.completed"]
    # An unknown outcome then the real one: two events, not one swallowed by the other.
    unknown = call_events(dialer_events.CallResult(attempt_id="a", outcome="unknown"), NOW)[0]
    assert unknown.id != call_events(dialer_events.CallResult(attempt_id="a", outcome="busy"), NOW)[0].id
    assert unknown.created_at == NOW  # no end time: the time it was received


def test_subscribed_types_are_checked_and_deduplicated():
    assert events.normalize_types(["call.completed", "call.completed", "webhook.test"]) == \
        ["call.completed", "webhook.test"]
    for bad in ([], ["execution.launched"], ["CALL.COMPLETED"]):
        with pytest.raises(ValueError):
            events.normalize_types(bad)
