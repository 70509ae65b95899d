"""CallResult events on call.completed / call.rejected / call.not_placed."""

from __future__ import annotations

from nats.js import JetStreamContext

from kernel import jetstream
from kernel.timefmt import iso
from outbound.dialer.v1 import events_pb2
from services.dialer.adapters.batching import Coalescer
from services.dialer.domain import attempts
from services.dialer.domain.attempts import CallRecord

COMPLETED = "call.completed"
REJECTED = "call.rejected"
NOT_PLACED = "call.not_placed"


def to_result(record: CallRecord, opted_out: bool = False, reached: bool = False) -> events_pb2.CallResult:
    """The record as an event; `opted_out` (domain.optout) needs the call's flow and `reached`
    (domain.voicemail) the request's answering-machine handling, which the record does not hold,
    so the caller tells them."""
    return events_pb2.CallResult(
        attempt_id=record.attempt_id, execution_id=record.execution_id,
        organization_id=record.organization_id, contact_id=record.contact_id, attempt=record.attempt,
        outcome=record.outcome or "", reason=record.reason or "",
        did_id=record.did_id or "", did_number=record.did_number or "",
        started_at=iso(record.started_at), answered_at=iso(record.answered_at), ended_at=iso(record.ended_at),
        talk_seconds=record.talk_seconds, node_ids=list(record.node_ids),
        sip_code=record.sip_code, q850_cause=record.q850_cause,  # None leaves the field absent
        phone=record.phone, opted_out=opted_out, reached=reached,
    )


def message_id(record: CallRecord, answering: int | None = None) -> tuple[str, str]:
    """(subject, Nats-Msg-Id) of the record's result.

    A rejected attempt may be requested again and rejected again; each rejection gets
    its own id after the first so that JetStream's de-duplication does not drop it.
    `answering` is the stream sequence of a repeated request for a finished call: the
    requester is still waiting (its copy of the result was lost or is stuck with a dead
    consumer), so the answer gets an id of its own instead of being dropped as a duplicate.
    The real result of a call first published as unknown gets an id of its own too.
    """
    if record.state == attempts.REJECTED:
        subject = NOT_PLACED if record.outcome == attempts.NOT_PLACED else REJECTED
        suffix = f":{record.rejections}" if record.rejections > 1 else ""
        return subject, f"{subject}:{record.attempt_id}{suffix}"
    if answering is not None:
        return COMPLETED, f"{COMPLETED}:{record.attempt_id}:again:{answering}"
    if record.reason == attempts.LATE_RESULT:
        return COMPLETED, f"{COMPLETED}:{record.attempt_id}:late"
    return COMPLETED, f"{COMPLETED}:{record.attempt_id}"


class ResultPublisher:
    """The results of calls ending together are published together, their acks awaited at once."""

    def __init__(self, js: JetStreamContext):
        self.js = js
        self._batches = Coalescer(self._publish_batch)

    async def publish(self, record: CallRecord, answering: int | None = None, *, opted_out: bool = False,
                      reached: bool = False) -> None:
        subject, msg_id = message_id(record, answering)
        await self._batches((subject, to_result(record, opted_out, reached).SerializeToString(), msg_id))

    async def _publish_batch(self, items: list[tuple[str, bytes, str]]) -> list[Exception | None]:
        return await jetstream.publish_each(self.js, items)
