"""Lifecycle changes asked for through the API: pause, resume, cancel.

Each is a compare-and-set on the status under the row lock (a Move of domain/status.py);
a change away from running closes the call gate after commit and before the answer, so no
call passes the gate once the caller has been answered.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from campaign_rules import auto_pause
from campaign_rules.proto import AutoPauseRulesMessage
from kernel import errors, ids, logs
from kernel.clock import Clock
from services.execution.adapters import contacts, executions
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.executions import ExecutionRow
from services.execution.adapters.node_counters import CountersUnavailable
from services.execution.adapters.peers import Peers
from services.execution.adapters.status_changes import compare_and_set_status
from services.execution.auto_pause_counting import AutoPauseCounting
from services.execution.domain import auto_pause as ap
from services.execution.domain import status as st
from services.execution.domain.errors import ExecutionNotFoundError, InvalidExecutionStateError
from services.execution.queries import Queries

log = logs.get("execution.lifecycle")


class Lifecycle:
    def __init__(self, engine: AsyncEngine, peers: Peers, queries: Queries, counting: AutoPauseCounting,
                 gates: CallGates, clock: Clock):
        self.engine = engine
        self.peers = peers
        self.queries = queries
        self.counting = counting
        self.gates = gates
        self.clock = clock

    async def pause(self, organization_id: str, execution_id: str) -> ExecutionRow:
        return await self.transition(organization_id, execution_id, st.PAUSE, "Execution is not in running state")

    async def cancel(self, organization_id: str | None, execution_id: str) -> ExecutionRow:
        return await self.transition(organization_id, execution_id, st.CANCEL, "Execution has already finished")

    async def transition(self, organization_id: str | None, execution_id: str, move: st.Move,
                         message: str) -> ExecutionRow:
        """The move, refused with InvalidExecutionStateError(`message`) from any other status."""
        ids.parse(execution_id, ExecutionNotFoundError)
        now = self.clock.now()
        ending = st.is_terminal(move.target)
        async with self.engine.begin() as conn:
            row = await executions.get_execution(conn, organization_id, execution_id, lock=True)
            if row is None:
                raise ExecutionNotFoundError()
            if row.status not in move.sources:
                raise InvalidExecutionStateError(message)
            version = await compare_and_set_status(conn, execution_id, move, now, end=ending,
                                                   start=move.target == st.RUNNING)
            if ending:
                await contacts.skip_pending(conn, execution_id, now)
            changed = await executions.get_execution(conn, None, execution_id)
        if version and move.target != st.RUNNING:
            # Closed before the answer: whatever is queued, no call passes the gate from now on.
            await self.gates.close_logged({execution_id: version})
        log.info("execution status changed", extra={"execution_id": execution_id, "status": move.target})
        assert changed is not None  # locked above: it cannot have gone
        return changed

    async def resume(self, organization_id: str, execution_id: str,
                     auto_pause_rules: AutoPauseRulesMessage | None = None) -> ExecutionRow:
        """Back to running (domain/auto_pause.plan_resume): new rules replace the old ones, counters
        of resetOnResume rules restart from zero after paused_threshold, and credits that cannot
        cover a call leave the execution in paused_no_credits at once.

        New rules are checked as a program checks them (campaign_rules.auto_pause: the same
        ValidationError fields and messages), their nodes against the execution's flow."""
        current = await self.queries.get(organization_id, execution_id)
        ap.check_resumable(current.status)  # before any remote call; checked again under the lock
        new_rules = None
        if auto_pause_rules is not None:
            new_rules = auto_pause.from_proto(auto_pause_rules)
            if new_rules:
                auto_pause.check_nodes(new_rules, await self.peers.flow_node_ids(organization_id, current.flow_id))
        available = await self._available_credits(organization_id)
        now = self.clock.now()
        marks: dict[str, list[str]] = {}
        async with self.engine.begin() as conn:
            row = await executions.get_execution(conn, organization_id, execution_id, lock=True)
            if row is None:
                raise ExecutionNotFoundError()
            plan = ap.plan_resume(row.status, row.auto_pause_rules, new_rules, available)
            if plan.reset_nodes:
                try:
                    # Calls counted late belong before the reset.
                    marks, _ = await self.counting.count_deferred_of(conn, [execution_id], now, decide=False)
                    await self.counting.reset(execution_id, plan.reset_nodes)
                except CountersUnavailable as exc:
                    raise errors.UnavailableError(
                        "Auto-pause counters are unavailable (cannot reset them); try again") from exc
            version = await compare_and_set_status(
                conn, execution_id, plan.move, now, start=plan.target == st.RUNNING,
                auto_pause_rules=plan.rules if plan.replace_rules else ...)
            changed = await executions.get_execution(conn, None, execution_id)
        if version and plan.target != st.RUNNING:
            await self.gates.close_logged({execution_id: version})
        await self.counting.forget(marks)
        log.info("execution resumed", extra={"execution_id": execution_id, "status": plan.target,
                                             "reset": plan.reset_nodes, "credits_available": available})
        assert changed is not None  # locked above: it cannot have gone
        return changed

    async def _available_credits(self, organization_id: str) -> int | None:
        """The organization's available credits; None when the account service does not say."""
        try:
            return await self.peers.available_credits(organization_id)
        except errors.DomainError as exc:
            log.warning("credits unknown at resume", extra={"organization_id": organization_id, "error": exc.name})
            return None

    async def cancel_program_execution(self, organization_id: str, program_id: str) -> str:
        """Cancel the program's active execution (its gate closed before this answers); the id
        cancelled, or "" when none was active. Idempotent: the program's delete calls it, and the
        program.archived event calls it again."""
        async with self.engine.connect() as conn:
            execution_id = await executions.active_execution_of_program(conn, organization_id, program_id)
        if execution_id is None:
            return ""
        try:
            await self.cancel(organization_id, execution_id)
        except (InvalidExecutionStateError, ExecutionNotFoundError):
            return ""  # ended meanwhile
        return execution_id
