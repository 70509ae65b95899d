"""Rows → protos of the webhooks service, and source messages → events."""

from __future__ import annotations

from typing import Any

from campaign_rules.public_json import execution_json
from kernel.timefmt import InvalidTimestamp, iso, parse_iso
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import events_pb2 as execution_events
from outbound.webhooks.v1 import webhooks_pb2 as pb
from services.webhooks.domain import events as types
from services.webhooks.domain.events import Event, event_id
from services.webhooks.domain.model import Delivery, Endpoint


def endpoint_to_proto(e: Endpoint) -> pb.Webhook:
    answer = pb.Webhook(id=e.id, organization_id=e.organization_id, url=e.url, events=list(e.events),
                        enabled=e.enabled, created_at=iso(e.created_at))
    if e.description is not None:
        answer.description = e.description
    return answer


def delivery_to_proto(d: Delivery) -> pb.Delivery:
    answer = pb.Delivery(id=d.id, event_id=d.event_id, type=d.type, status=d.status, attempts=d.attempts,
                         last_error=d.last_error, next_retry_at=iso(d.next_attempt_at),
                         created_at=iso(d.created_at), delivered_at=iso(d.delivered_at))
    if d.response_code is not None:
        answer.response_code = d.response_code
    return answer


def _none(value: str) -> str | None:
    return value or None


def _when(value: str, fallback: Any) -> Any:
    try:
        return parse_iso(value) if value else fallback
    except InvalidTimestamp:
        return fallback


def status_changed_events(msg: execution_events.ExecutionStatusChanged, received: Any) -> list[Event]:
    """execution.status_changed, and execution.finished when the new status is terminal."""
    source = f"{msg.execution_id}:{msg.seq}"
    data = {"executionId": msg.execution_id, "programId": msg.program_id,
            "previousStatus": _none(msg.previous_status), "status": msg.status,
            "occurredAt": _none(msg.occurred_at),
            "execution": execution_json(msg.execution) if msg.HasField("execution") else None}
    created = _when(msg.occurred_at, received)
    out = [Event(event_id(types.STATUS_CHANGED, source), msg.organization_id, types.STATUS_CHANGED, created, data)]
    if msg.status in types.TERMINAL_STATUSES:
        out.append(Event(event_id(types.FINISHED, source), msg.organization_id, types.FINISHED, created, data))
    return out


def call_json(r: dialer_events.CallResult) -> dict[str, Any]:
    """The /calls record's fields as the call's result carries them (no `id` nor `amd`: the
    result does not hold them), with the execution and the attempt id that name the call."""
    return {
        "executionId": r.execution_id, "attemptId": r.attempt_id,
        "contactId": r.contact_id, "phone": r.phone, "attempt": r.attempt,
        "didNumber": _none(r.did_number), "outcome": r.outcome, "startedAt": _none(r.started_at),
        "answeredAt": _none(r.answered_at), "endedAt": _none(r.ended_at), "talkSeconds": r.talk_seconds,
        "nodeIds": list(r.node_ids), "sipCode": r.sip_code if r.HasField("sip_code") else None,
        "q850Cause": r.q850_cause if r.HasField("q850_cause") else None,
    }


def call_events(r: dialer_events.CallResult, received: Any) -> list[Event]:
    """call.completed, and contact.opted_out when the call's flow ran an opt-out node."""
    source = f"{r.attempt_id}:{r.outcome}"
    created = _when(r.ended_at, received)
    out = [Event(event_id(types.CALL_COMPLETED, source), r.organization_id, types.CALL_COMPLETED, created,
                 call_json(r))]
    if r.opted_out:
        out.append(Event(event_id(types.OPTED_OUT, source), r.organization_id, types.OPTED_OUT, created,
                         {"phone": r.phone, "executionId": r.execution_id, "contactId": r.contact_id,
                          "occurredAt": _none(r.ended_at)}))
    return out
