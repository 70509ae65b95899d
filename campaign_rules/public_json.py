"""The public API's JSON of an execution, of its contacts and of a call, built from the contexts' protos.

One shape wherever a customer sees it: the gateway's answers, the CSV exports' columns, the
webhooks' payloads and the events stream. Field names are the spec's (camelCase); a value a
proto leaves empty is null.
"""

from __future__ import annotations

from typing import Any

from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2


def _none(value: str) -> str | None:
    return value or None


def auto_pause_rules_json(answer: Any) -> list[dict[str, Any]] | None:
    """The auto-pause rules of a program or an execution as answered; None when it has none set."""
    if not answer.HasField("auto_pause_rules"):
        return None
    return [{"nodeId": r.node_id, "threshold": r.threshold, "resetOnResume": r.reset_on_resume}
            for r in answer.auto_pause_rules.rules]


def execution_json(e: execution_pb2.Execution) -> dict[str, Any]:
    return {
        "id": e.id, "programId": e.program_id, "organizationId": e.organization_id, "audienceId": e.audience_id,
        "flowId": e.flow_id, "status": e.status, "totalContacts": e.total_contacts,
        "contactsCompleted": e.contacts_completed, "contactsFailed": e.contacts_failed,
        "contactsPending": e.contacts_pending, "contactsInProgress": e.contacts_in_progress,
        "contactsSkipped": e.contacts_skipped, "contactsSkippedBy": dict(e.contacts_skipped_by),
        "scheduledStartAt": e.scheduled_start_at,
        "scheduledStopAt": _none(e.scheduled_stop_at), "actualStartAt": _none(e.actual_start_at),
        "actualEndAt": _none(e.actual_end_at), "autoPauseRules": auto_pause_rules_json(e),
        "createdAt": e.created_at, "updatedAt": e.updated_at,
        "pauseReason": pause_reason_json(e), "heldBy": held_by_json(e),
    }


def pause_reason_json(e: execution_pb2.Execution) -> dict[str, Any] | None:
    """Why a paused* execution is paused; None in any other status. `rule` (threshold only) is the
    rule that tripped with its count, null when the counters were not read."""
    if not e.HasField("pause_reason"):
        return None
    reason = e.pause_reason
    rule = ({"nodeId": reason.rule.node_id, "threshold": reason.rule.threshold, "count": reason.rule.count}
            if reason.HasField("rule") else None)
    return {"kind": reason.kind, "rule": rule, "until": _none(reason.until)}


def held_by_json(e: execution_pb2.Execution) -> dict[str, Any] | None:
    """A running execution held by a pause window now: which, and until when; None otherwise."""
    if not e.HasField("held_by"):
        return None
    return {"kind": e.held_by.kind, "until": _none(e.held_by.until)}


def auto_pause_counters_json(e: execution_pb2.Execution) -> list[dict[str, Any]] | None:
    """GetExecution's counters; None when they were not read (ended, or Redis did not answer)."""
    if not e.auto_pause_counters_known:
        return None
    return [{"nodeId": c.node_id, "count": c.count, "threshold": c.threshold} for c in e.auto_pause_counters]


def execution_detail_json(e: execution_pb2.Execution) -> dict[str, Any]:
    """GET /api/program-executions/{id}: the execution with its auto-pause counters."""
    return {**execution_json(e), "autoPauseCounters": auto_pause_counters_json(e)}


def contact_json(c: execution_pb2.ExecutionContact) -> dict[str, Any]:
    """A contact of an execution as /api/program-executions/{id}/contacts lists it."""
    return {"contactId": c.contact_id, "phone": c.phone, "state": c.state, "attempts": c.attempts,
            "lastOutcome": _none(c.last_outcome), "nextAttemptAt": _none(c.next_attempt_at),
            "blockedBy": _none(c.blocked_by), "skippedReason": _none(c.skipped_reason)}


def call_json(c: dialer_pb2.CallRecord) -> dict[str, Any]:
    """A finished call as /api/program-executions/{id}/calls lists it."""
    return {
        "id": c.id, "contactId": c.contact_id, "phone": c.phone, "attempt": c.attempt,
        "didNumber": _none(c.did_number), "outcome": c.outcome, "startedAt": _none(c.started_at),
        "answeredAt": _none(c.answered_at), "endedAt": _none(c.ended_at), "talkSeconds": c.talk_seconds,
        "nodeIds": list(c.node_ids), "sipCode": c.sip_code if c.HasField("sip_code") else None,
        "q850Cause": c.q850_cause if c.HasField("q850_cause") else None,
        "amd": {"result": c.amd.result, "decisionMs": c.amd.decision_ms} if c.HasField("amd") else None,
    }
