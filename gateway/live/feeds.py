"""One hub per execution watched in this gateway replica, shared by every stream of it.

Invariant: while anyone listens, a hub polls the execution service at most once per POLL_SECONDS
(GetExecution, then ListStatusChanges after the last seq it holds), however many streams are
open; it stops when the last one leaves. Each subscriber gets every status change in seq order
from its own cursor (none skipped: a hub keeps the execution's changes since seq 0), the
execution's detail whenever it changed, and `end` once the execution is terminal and its final
counters were sent.

The detail is read before the changes, so a terminal status seen there has its change in the
list read just after: `end` never comes before the last status change. Seqs of one execution
become visible in order (migration execution_0006), so reading after the last seq misses none.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

from campaign_rules.public_json import execution_detail_json, execution_json
from gateway.clients import call
from kernel import errors, logs
from outbound.execution.v1 import execution_pb2 as pb
from outbound.execution.v1.execution_pb2_grpc import ExecutionServiceStub

log = logs.get("gateway.live")

POLL_SECONDS = 1.0
PAGE = 1000
TERMINAL = frozenset({"completed", "stopped", "cancelled"})

STREAMS = Gauge("outbound_gateway_event_streams", "Execution event streams open in this gateway")
HUBS = Gauge("outbound_gateway_event_hubs", "Executions polled for event streams in this gateway")

STATUS, COUNTERS, END = "status", "counters", "end"


@dataclass(frozen=True)
class Event:
    kind: str  # status | counters | end
    data: dict[str, Any]
    seq: int | None = None  # status only: the SSE id


def status_event(change: pb.ExecutionStatusChange) -> Event:
    return Event(STATUS, {
        "seq": change.seq, "executionId": change.execution.id, "previousStatus": change.previous_status or None,
        "status": change.status, "occurredAt": change.occurred_at, "execution": execution_json(change.execution),
    }, change.seq)


def is_final(detail: dict[str, Any]) -> bool:
    """Terminal, and its counters final: its last call has finished (or actualEndAt is set)."""
    return detail["status"] in TERMINAL and (detail["actualEndAt"] is not None or detail["contactsInProgress"] == 0)


@dataclass(eq=False)
class Subscriber:
    cursor: int  # the last seq this subscriber was given
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    detail: dict[str, Any] | None = None  # the detail last given (by identity)
    ended: bool = False


class Hub:
    def __init__(self, stub: ExecutionServiceStub, organization_id: str, execution_id: str, poll_seconds: float):
        self.stub = stub
        self.organization_id = organization_id
        self.execution_id = execution_id
        self.poll_seconds = poll_seconds
        self.changes: list[Event] = []  # seq order
        self.seqs: list[int] = []
        self.detail: dict[str, Any] | None = None
        self.ended = False
        self.subscribers: set[Subscriber] = set()
        self.task: asyncio.Task[None] | None = None

    def deliver(self, sub: Subscriber) -> None:
        """What `sub` has not been given yet, in order: changes, the detail, the end."""
        for event in self.changes[bisect.bisect_right(self.seqs, sub.cursor):]:
            sub.queue.put_nowait(event)
            sub.cursor = event.seq or sub.cursor
        if self.detail is not None and sub.detail is not self.detail:
            sub.queue.put_nowait(Event(COUNTERS, self.detail))
            sub.detail = self.detail
        if self.ended and not sub.ended:
            sub.queue.put_nowait(Event(END, {"executionId": self.execution_id, "status": self.detail and
                                             self.detail["status"]}))
            sub.ended = True

    async def poll(self) -> None:
        execution = await call(self.stub.GetExecution, pb.GetExecutionRequest(
            organization_id=self.organization_id, execution_id=self.execution_id))
        detail = execution_detail_json(execution)
        while True:
            after = self.seqs[-1] if self.seqs else 0
            answer = await call(self.stub.ListStatusChanges, pb.ListStatusChangesRequest(
                organization_id=self.organization_id, execution_id=self.execution_id, after_seq=after, limit=PAGE))
            for change in answer.changes:
                self.changes.append(status_event(change))
                self.seqs.append(change.seq)
            if len(answer.changes) < PAGE:
                break
        if detail != self.detail:
            self.detail = detail
        self.ended = is_final(detail)
        for sub in self.subscribers:
            self.deliver(sub)

    async def run(self) -> None:
        while self.subscribers and not self.ended:
            try:
                await self.poll()
            except errors.DomainError as exc:  # the service did not answer: the next poll tries again
                log.warning("execution feed poll failed", extra={"execution_id": self.execution_id,
                                                                  "error": exc.name})
            except Exception:
                log.exception("execution feed poll failed", extra={"execution_id": self.execution_id})
            if not self.ended:
                await asyncio.sleep(self.poll_seconds)


class Feeds:
    """The hubs of this gateway replica, by (organization, execution)."""

    def __init__(self, stub: ExecutionServiceStub, poll_seconds: float = POLL_SECONDS):
        self.stub = stub
        self.poll_seconds = poll_seconds
        self.hubs: dict[tuple[str, str], Hub] = {}

    def subscribe(self, organization_id: str, execution_id: str, after_seq: int) -> tuple[Hub, Subscriber]:
        key = (organization_id, execution_id)
        hub = self.hubs.get(key)
        if hub is None:
            hub = self.hubs[key] = Hub(self.stub, organization_id, execution_id, self.poll_seconds)
            HUBS.inc()
        sub = Subscriber(cursor=after_seq)
        hub.subscribers.add(sub)
        STREAMS.inc()
        hub.deliver(sub)  # what the hub already holds; the rest comes with its polls
        if hub.task is None:
            hub.task = asyncio.create_task(hub.run())
        return hub, sub

    async def unsubscribe(self, hub: Hub, sub: Subscriber) -> None:
        hub.subscribers.discard(sub)
        STREAMS.dec()
        if hub.subscribers:
            return
        if self.hubs.get((hub.organization_id, hub.execution_id)) is hub:
            del self.hubs[(hub.organization_id, hub.execution_id)]
            HUBS.dec()
        if hub.task is not None and not hub.task.done():
            hub.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hub.task
