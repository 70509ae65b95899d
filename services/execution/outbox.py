"""Side effects after commit of a launch and of an end: the program confirmed active, live
triggers started and ended, lifecycle events, the auto-pause counters dropped.

Each is idempotent; outbox flags on the execution row (adapters/outbox.py) keep them due until
they succeeded, so `sweep` may redo them after a crash between commit and side effect.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import errors, logs
from kernel.clock import Clock
from services.execution.adapters import contacts, events, executions, outbox
from services.execution.adapters.executions import ExecutionRow
from services.execution.adapters.node_counters import NodeCounters
from services.execution.adapters.peers import Peers
from services.execution.adapters.status_changes import compare_and_set_status
from services.execution.domain import status as st
from services.execution.domain.errors import ProgramNotFoundError
from services.execution.domain.launch import ARCHIVED, LIVE

log = logs.get("execution.outbox")

# Real seconds before the side effects of an execution are tried again after a failure.
BACKOFF_SECONDS = 5.0


class Outbox:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, peers: Peers, counters: NodeCounters,
                 clock: Clock):
        self.engine = engine
        self.js = js
        self.peers = peers
        self.counters = counters
        self.clock = clock
        self._backoff: dict[str, float] = {}  # execution id → monotonic time before which it waits

    @contextlib.asynccontextmanager
    async def _writing(self, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
        """The caller's transaction when it holds the execution's row lock (the sweep: a second
        connection would wait on that lock for ever), else a transaction of its own."""
        if conn is not None:
            yield conn
        else:
            async with self.engine.begin() as own:
                yield own

    async def confirm_program(self, row: ExecutionRow, *, discard: bool = False,
                              conn: AsyncConnection | None = None) -> bool:
        """Mark the program active; the execution dispatches nothing before this succeeded.

        A program deleted since the launch read it ends the execution (ProgramNotFoundError is
        raised): `discard` (the launch, which then answers 409) deletes it, never dispatched;
        otherwise (the outbox, after a crash) it is cancelled. The program service cancels an
        execution it can see when it deletes, so whichever of the two commits first, no call
        starts. Any other failure leaves the confirmation to the outbox (False)."""
        try:
            if await self.peers.mark_program_active(row.organization_id, row.program_id) == ARCHIVED:
                raise ProgramNotFoundError()  # MarkProgramActive answers an archived program unchanged
        except errors.NotFoundError:
            now = self.clock.now()
            async with self._writing(conn) as tx:
                if not (discard and await executions.discard_unconfirmed(tx, row.id)):
                    version = await compare_and_set_status(tx, row.id, st.CANCEL, now, end=True)
                    if version:
                        await contacts.skip_pending(tx, row.id, now)
                    await outbox.mark_notified(tx, row.id, launch=True)
            log.warning("program deleted during its launch; execution ended before any call",
                        extra={"execution_id": row.id, "discarded": discard})
            raise ProgramNotFoundError() from None
        except errors.DomainError as exc:
            log.warning("launch not confirmed yet", extra={"execution_id": row.id, "error": exc.name})
            return False
        async with self._writing(conn) as tx:
            await executions.confirm_program(tx, row.id)
        return True

    async def start_live(self, row: ExecutionRow) -> None:
        await self.peers.start_live(row.organization_id, row.program_id, row.id, row.audience_id or "",
                                    row.trigger_condition)

    async def notify_launch(self, row: ExecutionRow, *, confirmed: bool, live_started: bool = False,
                            conn: AsyncConnection | None = None) -> None:
        """After-commit side effects of a launch.

        launch() starts a live execution's triggers itself (a failure there cancels the launch);
        the outbox, after a crash, does not know whether that happened and starts them again.
        """
        if not confirmed:
            with contextlib.suppress(ProgramNotFoundError):  # cancelled: no call, nothing more
                if not await self.confirm_program(row, conn=conn):
                    raise errors.UnavailableError("program service unavailable")
        if row.mode == LIVE and st.is_active(row.status) and not live_started:
            await self.start_live(row)
        await events.publish(self.js, [events.lifecycle(row, events.EXECUTION_LAUNCHED, self.clock.now())])

    async def notify_end(self, row: ExecutionRow) -> None:
        if row.mode == LIVE:
            await self.peers.end_live(row.id)
        await events.publish(self.js, [events.lifecycle(row, events.EXECUTION_ENDED, self.clock.now())])
        if row.auto_pause_rules is not None:
            # Nothing counts once the execution has ended (results of ended executions are not
            # counted), so the counters go; a Redis failure leaves the outbox flag to retry.
            await self.counters.drop(row.id)

    async def sweep(self) -> list[str]:
        """Redo the side effects still due; answers the executions whose end was notified."""
        now_real = time.monotonic()
        ended: list[str] = []
        async with self.engine.begin() as conn:
            for due in await outbox.lock_unnotified(conn):
                row = due.execution
                if self._backoff.get(row.id, 0) > now_real:
                    continue
                try:
                    if not due.launch_notified:
                        await self.notify_launch(row, confirmed=due.program_confirmed, conn=conn)
                        await outbox.mark_notified(conn, row.id, launch=True)
                    if not due.end_notified and st.is_terminal(row.status):
                        await self.notify_end(row)
                        await outbox.mark_notified(conn, row.id, end=True)
                        ended.append(row.id)
                    self._backoff.pop(row.id, None)
                except Exception as exc:
                    self._backoff[row.id] = now_real + BACKOFF_SECONDS
                    log.warning("execution side effects deferred", extra={"execution_id": row.id,
                                                                         "error": repr(exc)})
        return ended
