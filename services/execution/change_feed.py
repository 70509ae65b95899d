"""The status change log read and published: ListStatusChanges, and the loop that publishes each
change as execution.status_changed on the EXECUTIONS stream.

The log is written by a trigger in the transaction of each change (adapters/change_log.py). Every
replica runs the publisher: a pass claims unpublished changes with SKIP LOCKED, publishes them
(Nats-Msg-Id "execution.status_changed:<seq>") and marks them published in the same transaction,
so a crash between the two publishes them again with the same seq: at least once, consumers
dedupe by seq. Published changes are deleted RETENTION after publication.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import ids, logs
from kernel.loops import every
from kernel.timefmt import iso
from outbound.execution.v1 import events_pb2, execution_pb2
from services.execution.adapters import change_log, events, executions
from services.execution.adapters.change_log import StatusChange
from services.execution.adapters.executions import ExecutionRow
from services.execution.domain.errors import ExecutionNotFoundError

log = logs.get("execution.change_feed")

STATUS_CHANGED = "execution.status_changed"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PUBLISH_BATCH = 500
# Real time a published change stays in the log (a stream opened later replays from the log).
RETENTION = timedelta(days=7)

ToMessage = Callable[[ExecutionRow], execution_pb2.Execution]


def status_changed(change: StatusChange, to_message: ToMessage) -> tuple[str, bytes, str]:
    row = change.execution
    message = events_pb2.ExecutionStatusChanged(
        seq=change.seq, execution_id=row.id, program_id=row.program_id, organization_id=row.organization_id,
        previous_status=change.previous_status or "", status=change.status, occurred_at=iso(change.occurred_at))
    message.execution.CopyFrom(to_message(row))
    return STATUS_CHANGED, message.SerializeToString(), f"{STATUS_CHANGED}:{change.seq}"


class ChangeFeed:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, to_message: ToMessage):
        self.engine = engine
        self.js = js
        self.to_message = to_message  # the execution as the API's Execution message

    async def list(self, organization_id: str, execution_id: str, after_seq: int, limit: int) -> list[StatusChange]:
        ids.parse(execution_id, ExecutionNotFoundError)
        limit = DEFAULT_LIMIT if limit <= 0 else min(limit, MAX_LIMIT)
        async with self.engine.connect() as conn:
            if await executions.get_execution(conn, organization_id, execution_id) is None:
                raise ExecutionNotFoundError()
            return await change_log.list_changes(conn, execution_id, max(after_seq, 0), limit)

    async def publish_pending(self) -> int:
        """One pass: publish a batch of unpublished changes; how many were published."""
        async with self.engine.begin() as conn:
            changes = await change_log.claim_unpublished(conn, PUBLISH_BATCH)
            if not changes:
                return 0
            # A failure rolls back: the changes stay unpublished and the next pass retries them.
            await events.publish(self.js, [status_changed(c, self.to_message) for c in changes])
            await change_log.mark_published(conn, [c.seq for c in changes])
        return len(changes)

    async def trim(self) -> int:
        async with self.engine.begin() as conn:
            return await change_log.trim_published(conn, RETENTION)

    async def run_publisher(self, interval: float) -> None:
        await every(interval, self.publish_pending, log=log, what="status change publishing",
                    busy=lambda n: n >= PUBLISH_BATCH)

    async def run_trim(self, interval: float = 600.0) -> None:
        await every(interval, self.trim, log=log, what="status change log trim")
