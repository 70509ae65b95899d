"""Use cases of the execution context: launch, lifecycle changes, applying call results."""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from google.protobuf import json_format
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors, logs, paging, rpc
from kernel.clock import Clock, get_clock
from kernel.timefmt import iso, parse_optional
from outbound.account.v1 import account_pb2
from outbound.dialer.v1 import dialer_pb2
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import execution_pb2
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import events_pb2 as trigger_events
from outbound.trigger.v1 import trigger_pb2
from services.execution.adapters import events
from services.execution.adapters import repository as repo
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.clients import Clients
from services.execution.adapters.node_counters import CountedCall, CountersUnavailable, NodeCounters
from services.execution.domain import auto_pause as ap
from services.execution.domain import contacts as ct
from services.execution.domain import status as st
from services.execution.domain.retry import RetryStrategy

log = logs.get("execution.service")

DEFAULT_MAX_CONCURRENT_CALLS = 10


def _dict(message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=False)


def to_proto(row: Mapping[str, Any]) -> execution_pb2.Execution:
    message = execution_pb2.Execution(
        id=str(row["id"]), program_id=row["program_id"], organization_id=row["organization_id"],
        audience_id=row["audience_id"] or "", flow_id=row["flow_id"], status=row["status"], mode=row["mode"],
        total_contacts=row["total_contacts"], contacts_completed=row["contacts_completed"],
        contacts_failed=row["contacts_failed"], contacts_pending=row["contacts_pending"],
        contacts_in_progress=row["contacts_in_progress"], contacts_skipped=row["contacts_skipped"],
        scheduled_start_at=iso(row["scheduled_start_at"]), scheduled_stop_at=iso(row["scheduled_stop_at"]),
        actual_start_at=iso(row["actual_start_at"]), actual_end_at=iso(row["actual_end_at"]),
        created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]))
    if row.get("auto_pause_rules") is not None:
        message.auto_pause_rules.CopyFrom(
            json_format.ParseDict({"rules": row["auto_pause_rules"]}, program_pb2.AutoPauseRules()))
    counters = row.get("auto_pause_counters")
    if counters is not None:
        message.auto_pause_counters_known = True
        message.auto_pause_counters.extend(
            execution_pb2.AutoPauseCounter(node_id=c["nodeId"], count=c["count"], threshold=c["threshold"])
            for c in counters)
    return message


class ExecutionService:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, clients: Clients, clock: Clock | None = None, *,
                 counters: NodeCounters, gates: CallGates):
        self.engine = engine
        self.js = js
        self.clients = clients
        self.clock = clock or get_clock()
        self.counters = counters
        self.gates = gates
        # Called after results free capacity or fired triggers add contacts: the orchestrator of
        # this process dispatches at once instead of at its next tick (a hint; ticks still run).
        self.on_dispatchable: Callable[[], None] | None = None

    def _hint_dispatch(self) -> None:
        if self.on_dispatchable is not None:
            self.on_dispatchable()

    # ------------------------------------------------------------ launch

    async def launch(self, organization_id: str, program_id: str) -> str:
        program = await rpc.call(self.clients.program.GetProgram, program_pb2.GetProgramRequest(
            organization_id=organization_id, program_id=program_id))
        if program.status == "archived":
            raise errors.ProgramNotFoundError()
        now = self.clock.now()
        stop_at = parse_optional(program.stop_at)
        if stop_at is not None and stop_at <= now:
            raise errors.ValidationError("stopAt: the program's stop time has already passed", field="stopAt")
        async with self.engine.connect() as conn:
            if await repo.has_active_execution(conn, program_id):
                raise errors.ExecutionAlreadyRunningError()
        pool = await self._usable_dids(organization_id, [d.id for d in program.did_pool])
        live = program.mode == "live"
        start_at = parse_optional(program.start_at) or now
        running = start_at <= now
        execution_id = str(uuid.uuid4())
        row = {
            "id": execution_id, "organization_id": organization_id, "program_id": program_id,
            "audience_id": program.audience_id, "flow_id": program.flow_id, "mode": "live" if live else "batch",
            "status": st.RUNNING if running else st.SCHEDULED, "timezone": program.timezone or "UTC",
            "did_pool": pool, "retry_strategy": _dict(program.retry_strategy) or {"type": "none"},
            "pause_windows": _dict(program.pause_windows) if program.HasField("pause_windows") else None,
            "auto_pause_rules": (_dict(program.auto_pause_rules).get("rules", [])
                                 if program.HasField("auto_pause_rules") else None),
            "trigger_condition": (_dict(program.trigger_condition)
                                  if live and program.HasField("trigger_condition") else None),
            "max_concurrent_calls": program.max_concurrent_calls or DEFAULT_MAX_CONCURRENT_CALLS,
            "scheduled_start_at": start_at, "scheduled_stop_at": stop_at,
            "actual_start_at": now if running else None, "created_at": now, "updated_at": now,
            "program_confirmed": False,
        }
        try:
            async with self.engine.begin() as conn:
                await repo.insert_execution(conn, row)
                if not live:
                    total = await repo.copy_batch_contacts(
                        conn, execution_id, self.clients.stream_audience(organization_id, program.audience_id), now)
                    if total == 0:
                        raise errors.AudienceEmptyError()
                    await repo.set_batch_total(conn, execution_id, total)
        except repo.ActiveExecutionExists:
            raise errors.ProgramStatusConflictError(
                "Program status changed (concurrent operation): another launch created its execution") from None
        log.info("execution launched", extra={"execution_id": execution_id, "program_id": program_id,
                                              "mode": row["mode"], "status": row["status"]})
        try:
            row["program_confirmed"] = await self._confirm_program(row, discard=True)
        except errors.ProgramNotFoundError:
            raise errors.ProgramStatusConflictError(
                "Program status changed (concurrent operation): the program was deleted during the launch") from None
        if live:
            try:
                await self._start_live(row)
            except Exception:
                await self._cancel_failed_live_launch(execution_id)
                raise
        try:
            await self.notify_launch(row, live_started=live)
            async with self.engine.begin() as conn:
                await repo.mark_notified(conn, execution_id, launch=True)
        except Exception as exc:  # the orchestrator's outbox sweep retries these
            log.warning("post-launch side effects deferred", extra={"execution_id": execution_id,
                                                                    "error": repr(exc)})
        return execution_id

    async def _usable_dids(self, organization_id: str, did_ids: Sequence[str]) -> list[str]:
        answer = await rpc.call(self.clients.dialer.ResolveDids, dialer_pb2.ResolveDidsRequest(
            organization_id=organization_id, did_ids=list(did_ids), validate=False))
        usable = {d.id for d in answer.dids if not d.deleted and d.status == "active"}
        pool = [did for did in dict.fromkeys(did_ids) if did in usable]
        if not pool:
            raise errors.EmptyDidPoolError()
        return pool

    async def _start_live(self, row: Mapping[str, Any]) -> None:
        request = trigger_pb2.StartLiveExecutionRequest(
            organization_id=row["organization_id"], program_id=row["program_id"], execution_id=str(row["id"]),
            output_audience_id=row["audience_id"] or "")
        if row.get("trigger_condition"):
            request.trigger_condition.CopyFrom(
                json_format.ParseDict(row["trigger_condition"], program_pb2.TriggerCondition()))
        await rpc.call(self.clients.trigger.StartLiveExecution, request)

    async def _confirm_program(self, row: Mapping[str, Any], *, discard: bool = False) -> bool:
        """Mark the program active; the execution dispatches nothing before this succeeded.

        A program deleted since the launch read it ends the execution (ProgramNotFoundError is
        raised): `discard` (the launch, which then answers 409) deletes it, never dispatched;
        otherwise (the outbox, after a crash) it is cancelled. The program service cancels an
        execution it can see when it deletes, so whichever of the two commits first, no call
        starts. Any other failure leaves the confirmation to the outbox (False)."""
        execution_id = str(row["id"])
        try:
            program = await rpc.call(self.clients.program.MarkProgramActive, program_pb2.MarkProgramActiveRequest(
                organization_id=row["organization_id"], program_id=row["program_id"]))
            if program.status == "archived":  # MarkProgramActive answers an archived program unchanged
                raise errors.ProgramNotFoundError()
        except errors.NotFoundError:
            now = self.clock.now()
            async with self.engine.begin() as conn:
                if not (discard and await repo.discard_unconfirmed(conn, execution_id)):
                    version = await repo.compare_and_set_status(conn, execution_id, st.ACTIVE, st.CANCELLED, now,
                                                                end=True)
                    if version:
                        await repo.skip_pending(conn, execution_id, now)
                    await repo.mark_notified(conn, execution_id, launch=True)
            log.warning("program deleted during its launch; execution ended before any call",
                        extra={"execution_id": execution_id, "discarded": discard})
            raise errors.ProgramNotFoundError() from None
        except errors.DomainError as exc:
            log.warning("launch not confirmed yet", extra={"execution_id": execution_id, "error": exc.name})
            return False
        async with self.engine.begin() as conn:
            await repo.confirm_program(conn, execution_id)
        return True

    async def _cancel_failed_live_launch(self, execution_id: str) -> None:
        now = self.clock.now()
        async with self.engine.begin() as conn:
            await repo.compare_and_set_status(conn, execution_id, st.ACTIVE, st.CANCELLED, now, end=True)
            await repo.mark_notified(conn, execution_id, launch=True)
        log.warning("live launch failed; execution cancelled", extra={"execution_id": execution_id})

    async def notify_launch(self, row: Mapping[str, Any], *, live_started: bool = False) -> None:
        """After-commit side effects of a launch; each is idempotent, so the outbox may redo them.

        launch() starts a live execution's triggers itself (a failure there cancels the launch);
        the outbox, after a crash, does not know whether that happened and starts them again.
        """
        if not row.get("program_confirmed", True):
            with contextlib.suppress(errors.ProgramNotFoundError):  # cancelled: no call, nothing more
                if not await self._confirm_program(row):
                    raise errors.UnavailableError("program service unavailable")
        if row["mode"] == "live" and st.is_active(row["status"]) and not live_started:
            await self._start_live(row)
        await events.publish(self.js, [events.lifecycle(row, events.EXECUTION_LAUNCHED, self.clock.now())])

    async def notify_end(self, row: Mapping[str, Any]) -> None:
        if row["mode"] == "live":
            await rpc.call(self.clients.trigger.EndLiveExecution,
                           trigger_pb2.EndLiveExecutionRequest(execution_id=str(row["id"])))
        await events.publish(self.js, [events.lifecycle(row, events.EXECUTION_ENDED, self.clock.now())])
        if row.get("auto_pause_rules") is not None:
            # Nothing counts once the execution has ended (results of ended executions are not
            # counted), so the counters go; a Redis failure leaves the outbox flag to retry.
            await self.counters.drop(str(row["id"]))

    # ------------------------------------------------------------ reads

    async def get(self, organization_id: str, execution_id: str) -> dict[str, Any]:
        _check_uuid(execution_id)
        async with self.engine.connect() as conn:
            row = await repo.get_execution(conn, organization_id, execution_id)
        if row is None:
            raise errors.ExecutionNotFoundError()
        return row

    async def get_detail(self, organization_id: str, execution_id: str) -> dict[str, Any]:
        """The execution with its auto-pause counters: a list while it is active (empty without
        rules), None once it has ended (the counters are deleted) or when Redis does not answer."""
        row = await self.get(organization_id, execution_id)
        row["auto_pause_counters"] = None
        if st.is_active(row["status"]):
            rules = row["auto_pause_rules"]
            try:
                counts = await self.counters.read(execution_id, ap.rule_nodes(rules))
                row["auto_pause_counters"] = ap.counter_views(rules, counts)
            except CountersUnavailable as exc:
                log.warning("auto-pause counters unreadable", extra={"execution_id": execution_id,
                                                                     "error": str(exc)})
        return row

    async def list(self, organization_id: str, program_id: str, active_only: bool, limit: int,
                   cursor: str) -> tuple[list[dict[str, Any]], str]:
        limit = paging.page_size(limit)
        key = paging.decode(cursor, 2)
        after = (paging.instant(key[0]), paging.identifier(key[1])) if key else None
        async with self.engine.connect() as conn:
            rows = await repo.list_executions(conn, organization_id, program_id or None, active_only,
                                              limit + 1, after)
        next_cursor = ""
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = paging.encode(rows[-1]["created_at"], rows[-1]["id"])
        return rows, next_cursor

    # ------------------------------------------------------------ lifecycle

    async def pause(self, organization_id: str, execution_id: str) -> dict[str, Any]:
        return await self._transition(organization_id, execution_id, (st.RUNNING,), st.PAUSED,
                                      "Execution is not in running state")

    async def resume(self, organization_id: str, execution_id: str,
                     auto_pause_rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Back to running (domain/auto_pause.plan_resume): new rules replace the old ones, counters
        of resetOnResume rules restart from zero after paused_threshold, and credits that cannot
        cover a call leave the execution in paused_no_credits at once."""
        current = await self.get(organization_id, execution_id)
        ap.check_resumable(current["status"])  # before any remote call; checked again under the lock
        new_rules = None
        if auto_pause_rules is not None:
            node_ids: set[str] = set()
            if auto_pause_rules:
                flow = await rpc.call(self.clients.flows.GetFlow, dialer_pb2.GetFlowRequest(
                    organization_id=organization_id, flow_id=current["flow_id"]))
                node_ids = {node.id for node in flow.nodes}
            new_rules = ap.validate_rules(auto_pause_rules, node_ids)
        available = await self._available_credits(organization_id)
        now = self.clock.now()
        marks: dict[str, list[str]] = {}
        async with self.engine.begin() as conn:
            row = await repo.get_execution(conn, organization_id, execution_id, lock=True)
            if row is None:
                raise errors.ExecutionNotFoundError()
            plan = ap.plan_resume(row["status"], row["auto_pause_rules"], new_rules, available)
            if plan.reset_nodes:
                try:
                    # Calls counted late belong before the reset.
                    marks, _ = await self._count_deferred(conn, [execution_id], now, decide=False)
                    await self.counters.reset(execution_id, plan.reset_nodes)
                except CountersUnavailable as exc:
                    raise errors.UnavailableError(
                        "Auto-pause counters are unavailable (cannot reset them); try again") from exc
            version = await repo.compare_and_set_status(
                conn, execution_id, (row["status"],), plan.target, now, start=plan.target == st.RUNNING,
                auto_pause_rules=plan.rules if plan.replace_rules else ...)
            row = await repo.get_execution(conn, None, execution_id)
        if version and plan.target != st.RUNNING:
            await self.gates.close_logged({execution_id: version})
        await self._forget_counted(marks)
        log.info("execution resumed", extra={"execution_id": execution_id, "status": plan.target,
                                             "reset": plan.reset_nodes, "credits_available": available})
        return row

    async def _available_credits(self, organization_id: str) -> int | None:
        """The organization's available credits; None when the account service does not say."""
        try:
            answer = await rpc.call(self.clients.account.GetCredits,
                                    account_pb2.GetCreditsRequest(organization_id=organization_id), timeout=5)
        except errors.DomainError as exc:
            log.warning("credits unknown at resume", extra={"organization_id": organization_id, "error": exc.name})
            return None
        return int(answer.credits.available)

    async def cancel(self, organization_id: str | None, execution_id: str) -> dict[str, Any]:
        return await self._transition(organization_id, execution_id, st.ACTIVE, st.CANCELLED,
                                      "Execution has already finished")

    async def _transition(self, organization_id: str | None, execution_id: str, allowed: Sequence[str],
                          target: str, message: str, auto_pause_rules: Any = ...) -> dict[str, Any]:
        _check_uuid(execution_id)
        now = self.clock.now()
        ending = st.is_terminal(target)
        async with self.engine.begin() as conn:
            row = await repo.get_execution(conn, organization_id, execution_id, lock=True)
            if row is None:
                raise errors.ExecutionNotFoundError()
            if row["status"] not in allowed:
                raise errors.InvalidExecutionStateError(message)
            version = await repo.compare_and_set_status(conn, execution_id, allowed, target, now, end=ending,
                                                        start=target == st.RUNNING, auto_pause_rules=auto_pause_rules)
            if ending:
                await repo.skip_pending(conn, execution_id, now)
            row = await repo.get_execution(conn, None, execution_id)
        if version and target != st.RUNNING:
            # Closed before the answer: whatever is queued, no call passes the gate from now on.
            await self.gates.close_logged({execution_id: version})
        log.info("execution status changed", extra={"execution_id": execution_id, "status": target})
        return row

    # ------------------------------------------------------------ consumers

    async def apply_call_results(self, results: Sequence[dialer_events.CallResult]) -> None:
        """Apply a batch of call results in one transaction; late or repeated ones change nothing.

        A result applies to its contact while that attempt is in progress; a call's real result
        arriving after it was given up (unknown, or its lease given back) still applies while the
        contact has not been attempted again (contacts.late_result_applies)."""
        parsed = []
        for result in results:
            try:
                execution_id, ref, attempt = ct.parse_attempt_id(result.attempt_id)
                uuid.UUID(execution_id)
            except ValueError:
                log.error("call result with a malformed attempt id", extra={"attempt_id": result.attempt_id})
                continue
            parsed.append((execution_id, ref, attempt, result))
        if not parsed:
            return
        now = self.clock.now()
        strategies: dict[str, RetryStrategy] = {}
        async with self.engine.begin() as conn:
            executions = await repo.lock_executions(conn, {p[0] for p in parsed})
            contacts = await repo.lock_contacts(conn, sorted({(p[0], p[1]) for p in parsed}))
            # contact id → the update; several results for one contact in a batch make one update
            # from the row as read to where the last of them leaves it.
            updates: dict[int, repo.ContactUpdate] = {}
            out_of_credits: set[str] = set()
            counted: dict[str, list[CountedCall]] = defaultdict(list)
            for execution_id, ref, attempt, result in parsed:
                contact = contacts.get((execution_id, ref))
                execution = executions.get(execution_id)
                if contact is None or execution is None:
                    continue  # not ours
                state, outcome = contact["state"], result.outcome
                current = state == ct.IN_PROGRESS and contact["attempt"] == attempt
                if not current and not ct.late_result_applies(state, contact["attempt"], contact["last_outcome"],
                                                              outcome, attempt):
                    continue  # fenced off: an old attempt, a duplicate, or attempted again since
                if outcome == "rejected" and result.reason == "no_credits":
                    decision = ct.given_back(attempt, execution["status"], now)
                    outcome = ct.REJECTED
                    out_of_credits.add(execution_id)
                elif outcome == ct.NOT_PLACED:
                    decision = ct.given_back(attempt, execution["status"], now)
                else:
                    outcome = outcome if outcome in ct.CALL_OUTCOMES else "failed"
                    strategy = strategies.get(execution_id)
                    if strategy is None:
                        strategy = strategies[execution_id] = RetryStrategy.from_dict(execution["retry_strategy"])
                    decision = ct.after_call(outcome, attempt, strategy, execution["status"], now)
                read = updates.get(contact["id"]) or repo.ContactUpdate(
                    contact["id"], contact["attempt"], state, contact["last_outcome"], state, 0, None, "")
                updates[contact["id"]] = replace(read, state=decision.state, attempt=decision.attempt,
                                                 next_attempt_at=decision.next_attempt_at, outcome=outcome)
                if (result.node_ids and ap.has_rules(execution["auto_pause_rules"])
                        and st.is_active(execution["status"])):
                    counted[execution_id].append(CountedCall(result.attempt_id, tuple(result.node_ids)))
                contact["state"], contact["attempt"], contact["last_outcome"] = decision.state, decision.attempt, outcome
            applied = await repo.apply_contact_updates(conn, list(updates.values()), now)
            if applied != len(updates):
                raise RuntimeError(f"fenced update applied {applied} of {len(updates)} locked rows")
            moves: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for (execution_id, _), contact in contacts.items():
                if (update := updates.get(contact["id"])) is not None:
                    moves[execution_id].append((update.expected_state, update.state))
            await repo.apply_counter_deltas(
                conn, {e: ct.counter_deltas(m) for e, m in moves.items() if m}, now)
            await repo.mark_drained(conn, moves, now)
            paused: dict[str, int] = {}
            if out_of_credits:
                paused = await repo.add_credit_pause(conn, out_of_credits, now)
                for execution_id in paused:
                    log.info("execution paused: no credits", extra={"execution_id": execution_id})
            # Counted only once the fenced update has applied them, in this transaction.
            marks, paused_threshold = await self._count_nodes(conn, executions, counted, now, defer=True)
        await self.gates.close_logged({**paused, **paused_threshold})
        self._hint_dispatch()
        await self._forget_counted(marks)

    # ------------------------------------------------------------ auto-pause counting

    async def _count_nodes(self, conn, executions: Mapping[str, Mapping[str, Any]],
                           calls: Mapping[str, Sequence[CountedCall]], now: datetime, *, defer: bool,
                           decide: bool = True) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Count the calls' nodes in Redis and pause (running → paused_threshold) every execution
        one of whose rules fired; the caller holds the executions' row locks.

        Redis not answering: with `defer` the calls are kept in uncounted_results (same
        transaction) and counted later, and the execution dispatches nothing until then;
        otherwise CountersUnavailable propagates. Answers the attempt ids to forget after commit
        and the status versions of the executions paused (their gates close after commit).
        """
        calls = {e: list(c) for e, c in calls.items() if c}
        paused: dict[str, int] = {}
        if not calls:
            return {}, paused
        request = {e: (c, ap.rule_nodes(executions[e]["auto_pause_rules"])) for e, c in calls.items()}
        try:
            counts = await self.counters.count(request)
        except CountersUnavailable as exc:
            if not defer:
                raise
            await repo.defer_counting(conn, {e: [(c.attempt_id, c.node_ids) for c in cs]
                                             for e, cs in calls.items()}, now)
            log.warning("auto-pause counting deferred: Redis unavailable",
                        extra={"executions": sorted(calls), "error": str(exc)})
            return {}, paused
        for execution_id, execution_calls in calls.items():
            rules = executions[execution_id]["auto_pause_rules"]
            touched = ap.node_increments(c.node_ids for c in execution_calls)
            fired = ap.fired_rules(rules, touched, counts[execution_id])
            version = fired and decide and await repo.compare_and_set_status(
                conn, execution_id, (st.RUNNING,), st.PAUSED_THRESHOLD, now)
            if version:
                paused[execution_id] = version
                log.info("execution paused: auto-pause threshold reached",
                         extra={"execution_id": execution_id,
                                "rules": [(r["nodeId"], counts[execution_id][r["nodeId"]], r["threshold"])
                                          for r in fired]})
        return {e: [c.attempt_id for c in cs] for e, cs in calls.items()}, paused

    async def _forget_counted(self, marks: Mapping[str, Sequence[str]]) -> None:
        # Best effort: a leftover only keeps an attempt id until the execution ends.
        with contextlib.suppress(CountersUnavailable):
            await self.counters.committed(marks)

    async def _count_deferred(self, conn, execution_ids: Sequence[str] | None, now: datetime, *,
                              decide: bool = True) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Count the uncounted results of these executions (or of any, when None) now that Redis
        may answer; results of ended executions or of executions without rules are dropped."""
        executions = await repo.lock_uncounted(conn, execution_ids)
        if not executions:
            return {}, {}
        calls: dict[str, list[CountedCall]] = defaultdict(list)
        for execution_id, attempt_id, node_ids in await repo.uncounted_of(conn, list(executions)):
            execution = executions[execution_id]
            if st.is_active(execution["status"]) and ap.has_rules(execution["auto_pause_rules"]):
                calls[execution_id].append(CountedCall(attempt_id, tuple(node_ids)))
        counted = await self._count_nodes(conn, executions, calls, now, defer=False, decide=decide)
        await repo.clear_uncounted(conn, list(executions))
        return counted

    async def count_deferred(self) -> int:
        """One pass of the deferred counting (the orchestrator runs it); raises while Redis is down."""
        async with self.engine.connect() as conn:
            if not await repo.any_uncounted(conn):
                return 0
        await self.counters.ping()  # before taking row locks: a Redis still down must not hold them
        async with self.engine.begin() as conn:
            marks, paused = await self._count_deferred(conn, None, self.clock.now())
        await self.gates.close_logged(paused)
        await self._forget_counted(marks)
        return sum(len(m) for m in marks.values())

    async def on_triggers_fired(self, fired: Sequence[trigger_events.TriggerFired]) -> None:
        """Fired triggers, in one transaction: each trigger's contact is added once to its live
        execution while that is active (a redelivered trigger changes nothing)."""
        valid = []
        for one in fired:
            try:
                uuid.UUID(one.execution_id)
            except ValueError:
                continue
            valid.append(one)
        if not valid:
            return
        now = self.clock.now()
        async with self.engine.begin() as conn:
            executions = await repo.lock_live_executions(conn, {f.execution_id for f in valid})
            accepted = [f for f in valid if (e := executions.get(f.execution_id)) is not None
                        and st.is_active(e["status"]) and e["mode"] == "live"
                        and e["organization_id"] == f.organization_id]
            added = await repo.insert_live_contacts(
                conn, [(f.execution_id, f.trigger_id, f.contact_id, f.phone, f.country) for f in accepted], now)
            await repo.count_live_contacts(conn, Counter(added), now)
        if added:
            self._hint_dispatch()

    async def cancel_program_execution(self, organization_id: str, program_id: str) -> str:
        """Cancel the program's active execution (its gate closed before this answers); the id
        cancelled, or "" when none was active. Idempotent: the program's delete calls it, and the
        program.archived event calls it again."""
        async with self.engine.connect() as conn:
            execution_id = await repo.active_execution_of_program(conn, organization_id, program_id)
        if execution_id is None:
            return ""
        try:
            await self.cancel(organization_id, execution_id)
        except (errors.InvalidExecutionStateError, errors.ExecutionNotFoundError):
            return ""  # ended meanwhile
        return execution_id


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError):
        raise errors.ExecutionNotFoundError() from None
