"""Messages the execution service publishes on JetStream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from nats.js import JetStreamContext

from campaign_rules import answering_machine, trigger_condition
from kernel import jetstream
from kernel.timefmt import iso
from outbound.execution.v1 import events_pb2
from services.execution.adapters.claims import Attempt, CallingExecution
from services.execution.adapters.executions import ExecutionRow
from services.execution.domain.contacts import GIVEN_BACK, attempt_id

DIAL_REQUESTED = "dial.requested"
EXECUTION_LAUNCHED = "execution.launched"
EXECUTION_ENDED = "execution.ended"


def dial_requests(attempts: Iterable[Attempt], executions: Mapping[str, CallingExecution],
                  deadlines: Mapping[str, datetime], now: datetime, msg_id_suffix: str = "",
                  contact_deadlines: Mapping[int, datetime] | None = None) -> list[tuple[str, bytes, str]]:
    """One DialRequested per attempt; the attempt id is the message id (de-dup).

    An attempt given back (no credits, not placed, lease returned) is requested again with the
    same attempt id; its message id gets a suffix of the claim time, or JetStream's duplicate
    window would drop it and the contact would wait for its lease to run out. Each request
    carries its execution's deadline (`deadlines`), or its contact's when that is earlier (the
    closing of the contact's calling hours, `contact_deadlines` by contact row id), and its
    execution's answering-machine handling (unset: no detection).
    """
    items = []
    again = f":again:{int(now.timestamp() * 1000)}"
    for row in attempts:
        execution_id = row.execution_id
        ex = executions[execution_id]
        aid = attempt_id(execution_id, row.contact_ref, row.attempt)
        message = events_pb2.DialRequested(
            attempt_id=aid, execution_id=execution_id, organization_id=ex.organization_id,
            program_id=ex.program_id, contact_id=row.contact_id, phone=row.phone,
            country=row.country or "", attempt=row.attempt, flow_id=ex.flow_id,
            did_pool=list(ex.did_pool), requested_at=iso(now), not_after=iso(_earliest(
                deadlines.get(execution_id), (contact_deadlines or {}).get(row.id))))
        machine = ex.answering_machine
        if machine is not None:
            message.answering_machine.CopyFrom(answering_machine.to_proto(machine))
        suffix = msg_id_suffix or (again if row.last_outcome in GIVEN_BACK else "")
        items.append((DIAL_REQUESTED, message.SerializeToString(), aid + suffix))
    return items


def _earliest(*instants: datetime | None) -> datetime | None:
    known = [i for i in instants if i is not None]
    return min(known) if known else None


def lifecycle(row: ExecutionRow, subject: str, now: datetime) -> tuple[str, bytes, str]:
    message = events_pb2.ExecutionLifecycle(
        execution_id=row.id, program_id=row.program_id, organization_id=row.organization_id,
        mode=row.mode, status=row.status, audience_id=row.audience_id or "", occurred_at=iso(now))
    if row.trigger_condition is not None:
        message.trigger_condition.CopyFrom(trigger_condition.to_proto(row.trigger_condition))
    return subject, message.SerializeToString(), f"{subject}:{row.id}"


async def publish(js: JetStreamContext, items: list[tuple[str, bytes, str]]) -> None:
    if items:
        await jetstream.publish_many(js, items)
