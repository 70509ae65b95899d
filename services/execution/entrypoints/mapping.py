"""Proto ↔ execution types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from campaign_rules import auto_pause
from campaign_rules.auto_pause import CounterView
from campaign_rules.proto import AutoPauseRulesMessage
from kernel.timefmt import iso
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import execution_pb2
from outbound.trigger.v1 import events_pb2 as trigger_events
from services.execution.adapters.change_log import StatusChange
from services.execution.adapters.executions import ExecutionRow
from services.execution.contact_queries import ContactView
from services.execution.domain import blocking
from services.execution.domain.pause_reason import PAUSE_WINDOW, pause_reason
from services.execution.results import CallResult, FiredTrigger


def to_proto(row: ExecutionRow, auto_pause_counters: Sequence[CounterView] | None = None,
             held_until: datetime | None = None) -> execution_pb2.Execution:
    """The execution; its auto-pause counters known only when given (a detail read), and the
    pause window holding it when `held_until` is given."""
    message = execution_pb2.Execution(
        id=row.id, program_id=row.program_id, organization_id=row.organization_id,
        audience_id=row.audience_id or "", flow_id=row.flow_id, status=row.status, mode=row.mode,
        total_contacts=row.total_contacts, contacts_completed=row.contacts_completed,
        contacts_failed=row.contacts_failed, contacts_pending=row.contacts_pending,
        contacts_in_progress=row.contacts_in_progress, contacts_skipped=row.contacts_skipped,
        scheduled_start_at=iso(row.scheduled_start_at), scheduled_stop_at=iso(row.scheduled_stop_at),
        actual_start_at=iso(row.actual_start_at), actual_end_at=iso(row.actual_end_at),
        created_at=iso(row.created_at), updated_at=iso(row.updated_at))
    message.contacts_skipped_by.update(blocking.skipped_by(row.status, row.contacts_skipped, row.contacts_skipped_dnc))
    if row.auto_pause_rules is not None:
        # Set even when empty: [] (every rule removed) is shown, unlike no rules at all (null).
        message.auto_pause_rules.CopyFrom(auto_pause.to_proto(row.auto_pause_rules))
    if auto_pause_counters is not None:
        message.auto_pause_counters_known = True
        message.auto_pause_counters.extend(
            execution_pb2.AutoPauseCounter(node_id=c.node_id, count=c.count, threshold=c.threshold)
            for c in auto_pause_counters)
    reason = pause_reason(row.status, auto_pause_counters)
    if reason is not None:
        message.pause_reason.kind = reason.kind
        if reason.rule is not None:
            message.pause_reason.rule.CopyFrom(execution_pb2.AutoPauseCounter(
                node_id=reason.rule.node_id, count=reason.rule.count, threshold=reason.rule.threshold))
    if held_until is not None:
        message.held_by.CopyFrom(execution_pb2.HeldBy(kind=PAUSE_WINDOW, until=iso(held_until)))
    return message


def change_to_proto(change: StatusChange) -> execution_pb2.ExecutionStatusChange:
    return execution_pb2.ExecutionStatusChange(
        seq=change.seq, previous_status=change.previous_status or "", status=change.status,
        occurred_at=iso(change.occurred_at), execution=to_proto(change.execution))


def contact_to_proto(view: ContactView) -> execution_pb2.ExecutionContact:
    return execution_pb2.ExecutionContact(
        contact_id=view.contact_id, phone=view.phone, state=view.state, attempts=view.attempts,
        last_outcome=view.last_outcome or "", next_attempt_at=iso(view.next_attempt_at),
        blocked_by=view.blocked_by or "", skipped_reason=view.skipped_reason or "")


def resume_rules(request: execution_pb2.ResumeExecutionRequest) -> AutoPauseRulesMessage | None:
    """The rules a resume carries (parsed and checked by the resume), None when it carries none
    (no rules given differs from [], which removes every rule)."""
    return request.auto_pause_rules if request.HasField("auto_pause_rules") else None


def call_result(message: dialer_events.CallResult) -> CallResult:
    return CallResult(message.attempt_id, message.outcome, message.reason, tuple(message.node_ids),
                      reached=message.reached)


def fired_trigger(message: trigger_events.TriggerFired) -> FiredTrigger:
    return FiredTrigger(message.trigger_id, message.execution_id, message.organization_id, message.contact_id,
                        message.phone, message.country)
