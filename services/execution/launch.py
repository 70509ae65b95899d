"""Launching a program: snapshot it into a new execution with its contacts, then confirm.

The execution and its contacts are written in one transaction (an empty audience writes
nothing); the partial unique index keeps one active execution per program, so of two
concurrent launches exactly one wins. Nothing is dispatched before the program service has
confirmed the launch (Outbox.confirm_program); the rest of the side effects are the outbox's.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import logs
from kernel.clock import Clock
from services.execution.adapters import contacts, executions, outbox
from services.execution.adapters.executions import ActiveExecutionExists, ExecutionRow
from services.execution.adapters.peers import Peers
from services.execution.adapters.status_changes import compare_and_set_status
from services.execution.domain import launch as rules
from services.execution.domain import status as st
from services.execution.domain.errors import (
    AudienceEmptyError,
    ExecutionAlreadyRunningError,
    ProgramNotFoundError,
    ProgramStatusConflictError,
)
from services.execution.domain.zones import zone_keys_for
from services.execution.outbox import Outbox

log = logs.get("execution.launch")


class Launch:
    def __init__(self, engine: AsyncEngine, peers: Peers, outbox: Outbox, clock: Clock):
        self.engine = engine
        self.peers = peers
        self.outbox = outbox
        self.clock = clock

    async def launch(self, organization_id: str, program_id: str) -> str:
        program = await self.peers.program(organization_id, program_id)
        now = self.clock.now()
        rules.check_launchable(program, now)
        async with self.engine.connect() as conn:
            if await executions.has_active_execution(conn, program_id):
                raise ExecutionAlreadyRunningError()
        pool = rules.usable_pool(program.did_ids, await self.peers.usable_dids(organization_id, program.did_ids))
        start = rules.plan_start(program, now)
        row = ExecutionRow(
            id=str(uuid.uuid4()), organization_id=organization_id, program_id=program_id,
            audience_id=program.audience_id, flow_id=program.flow_id, mode=start.mode, status=start.status,
            timezone=start.timezone, did_pool=tuple(pool), retry_strategy=start.retry_strategy,
            pause_windows=program.pause_windows, auto_pause_rules=program.auto_pause_rules,
            trigger_condition=start.trigger_condition, max_concurrent_calls=start.max_concurrent_calls,
            total_contacts=0, contacts_completed=0, contacts_failed=0, contacts_pending=0,
            contacts_in_progress=0, contacts_skipped=0, scheduled_start_at=start.start_at,
            scheduled_stop_at=program.stop_at, actual_start_at=start.started_at, actual_end_at=None,
            created_at=now, updated_at=now, calling_hours=program.calling_hours,
            answering_machine=program.answering_machine)
        live = program.live
        try:
            async with self.engine.begin() as conn:
                await executions.insert_execution(conn, row)
                if not live:
                    copied = await contacts.copy_batch_contacts(
                        conn, row.id, self.peers.stream_audience(organization_id, program.audience_id), now,
                        zone_key_of=zone_keys_for(program))
                    if copied.total == 0:
                        raise AudienceEmptyError()
                    await executions.set_batch_total(conn, row.id, copied.total, copied.zone_keys)
        except ActiveExecutionExists:
            raise ProgramStatusConflictError(
                "Program status changed (concurrent operation): another launch created its execution") from None
        log.info("execution launched", extra={"execution_id": row.id, "program_id": program_id,
                                              "mode": row.mode, "status": row.status})
        try:
            confirmed = await self.outbox.confirm_program(row, discard=True)
        except ProgramNotFoundError:
            raise ProgramStatusConflictError(
                "Program status changed (concurrent operation): the program was deleted during the launch") from None
        if live:
            try:
                await self.outbox.start_live(row)
            except Exception:
                await self._cancel_failed_live_launch(row.id)
                raise
        try:
            await self.outbox.notify_launch(row, confirmed=confirmed, live_started=live)
            async with self.engine.begin() as conn:
                await outbox.mark_notified(conn, row.id, launch=True)
        except Exception as exc:  # the orchestrator's outbox sweep retries these
            log.warning("post-launch side effects deferred", extra={"execution_id": row.id, "error": repr(exc)})
        return row.id

    async def _cancel_failed_live_launch(self, execution_id: str) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await compare_and_set_status(conn, execution_id, st.CANCEL, now, end=True)
            await outbox.mark_notified(conn, execution_id, launch=True)
        log.warning("live launch failed; execution cancelled", extra={"execution_id": execution_id})
