"""The orchestrator loop, run by every replica: start, stop, dispatch, lease sweep, complete.

Replicas need no leader: claims take rows with SKIP LOCKED and every state change is a
compare-and-set, so two replicas ticking at once never dial the same attempt twice. Dispatch
passes take turns (fair_admission.py): what each claims is granted from capacity that no other
pass is granting at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import logs, metrics
from kernel.clock import Clock
from kernel.loops import every, finish_current
from services.execution.adapters import claims, contacts, counters, events, executions, status_changes
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.claims import Attempt, CallingExecution, Claimable
from services.execution.adapters.dial_backlog import DialBacklog
from services.execution.adapters.node_counters import CountersUnavailable
from services.execution.auto_pause_counting import AutoPauseCounting
from services.execution.calling_times import CallingTimes
from services.execution.domain import blocking
from services.execution.domain import status as st
from services.execution.domain.admission import dispatch_budget
from services.execution.domain.calling_hours_gate import ZoneGate
from services.execution.domain.fair_share import Claimant
from services.execution.fair_admission import Admitted, FairAdmission
from services.execution.lease_sweep import LeaseSweep
from services.execution.outbox import Outbox
from services.execution.screening import Screened, Screening, ScreeningUnavailable

log = logs.get("execution.orchestrator")

DEFERRED_COUNTING_SECONDS = 0.5
CLAIM_ROUNDS = 3  # of one pass: capacity an execution could not use goes to the others


class Orchestrator:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, clock: Clock, gates: CallGates, outbox: Outbox,
                 counting: AutoPauseCounting, *, tick_seconds: float = 0.2, lease_seconds: float = 120.0,
                 batch_size: int = 500, request_ttl_seconds: float = 30.0,
                 backlog: DialBacklog | None = None, backlog_limit: int = 0, screening: Screening | None = None,
                 admission: FairAdmission | None = None):
        self.engine = engine
        self.js = js
        self.clock = clock
        self.gates = gates
        self.outbox = outbox
        self.counting = counting
        self.tick_seconds = tick_seconds
        self.batch_size = batch_size
        # Dial requests no dialer has taken yet stay under backlog_limit (domain/admission.py).
        self.backlog = backlog
        self.backlog_limit = backlog_limit
        self.times = CallingTimes(clock, request_ttl_seconds)
        self.leases = LeaseSweep(engine, js, clock, gates, self.times, lease_seconds)
        self.screening = screening
        self.admission = admission or FairAdmission()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Dispatch now rather than at the next tick (capacity was freed or contacts were added)."""
        self._woken.set()

    async def run(self) -> None:
        # Not kernel.loops.every: a wake-up dispatches only, and the full tick keeps its own pace
        # (the wait runs to the next tick's time, not a whole interval from the wake-up).
        next_tick = 0.0
        while True:
            busy = False
            self._woken.clear()
            try:
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + self.tick_seconds
                    busy = await finish_current(self.tick())
                else:  # woken early: dispatch only; the rest of the tick keeps its pace
                    busy = await finish_current(self.dispatch(self.clock.now())) >= self.batch_size
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("orchestrator tick failed")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), max(0.0, next_tick - time.monotonic()))

    async def run_deferred_counting(self, interval: float = DEFERRED_COUNTING_SECONDS) -> None:
        """Count results applied while Redis did not answer; their executions wait for it."""
        # CountersUnavailable: still down, the executions concerned keep waiting, nothing is lost.
        await every(interval, self.counting.count_deferred, log=log, what="deferred auto-pause counting",
                    quiet=(CountersUnavailable,))

    async def tick(self) -> bool:
        """One pass; True when a full batch was dispatched (more work is probably waiting)."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            started = await status_changes.start_due_scheduled(conn, now)
        for execution_id in started:
            log.info("scheduled execution started", extra={"execution_id": execution_id})
        await self.stop_past_stop_at(now)
        dispatched = await self.dispatch(self.clock.now())
        await self.sweep_leases(self.clock.now())
        async with self.engine.begin() as conn:
            completed = await status_changes.complete_finished(conn, self.clock.now())
        for execution_id in completed:
            log.info("execution completed", extra={"execution_id": execution_id})
        for execution_id in await self.outbox.sweep():
            self.times.forget(execution_id)
        return dispatched >= self.batch_size

    async def stop_past_stop_at(self, now: datetime) -> None:
        stopped: dict[str, int] = {}
        async with self.engine.begin() as conn:
            for execution_id in await executions.lock_past_stop(conn, now):
                version = await status_changes.compare_and_set_status(conn, execution_id, st.STOP, now, end=True)
                if version:
                    stopped[execution_id] = version
                    skipped = await contacts.skip_pending(conn, execution_id, now)
                    log.info("execution stopped at stopAt", extra={"execution_id": execution_id,
                                                                   "skipped": skipped})
        # Requests already queued carry stopAt as their deadline; the gate closes as well.
        await self.gates.close_logged(stopped)

    async def dispatch(self, now: datetime) -> int:
        async with self.engine.connect() as conn:
            candidates = await claims.dispatchable(conn, now)
        if not candidates:
            return 0
        wanted: list[Claimant] = []
        context: dict[str, CallingExecution] = {}
        zone_gates: dict[str, ZoneGate] = {}
        for row in candidates:
            if self.times.in_pause_window(row, now):
                continue
            if (zones := self.times.zone_gate(row, now)) is not None:
                zone_gates[row.id] = zones
                if not zones.open:
                    continue  # its due contacts move to their openings below
            # No more than it has pending: the capacity it is not given goes to the others.
            n = min(row.max_concurrent_calls - row.contacts_in_progress, row.contacts_pending)
            if n > 0:
                wanted.append(Claimant(row.id, row.organization_id, n, row.contacts_in_progress))
                context[row.id] = row
        await self._defer_closed(zone_gates, now)
        if not wanted:
            return 0
        try:
            return await self._claim(wanted, context, zone_gates, now)
        except ScreeningUnavailable as exc:  # rolled back: nothing claimed, tried again next pass
            log.warning("claim held: a compliance check could not be made", extra={"error": str(exc)})
            return 0

    async def _claim(self, wanted: list[Claimant], context: dict[str, CallingExecution],
                     zone_gates: dict[str, ZoneGate], now: datetime) -> int:
        budget = await self._budget()
        async with self.engine.begin() as conn:
            admitted = await self.admission.admit(conn, wanted, budget)
            if not admitted.limits:
                return 0
            try:
                claimed = await self._claim_rounds(conn, admitted, wanted, zone_gates, now)
                screened = (await self.screening.screen(claimed, {e: r.organization_id for e, r in context.items()},
                                                        now)
                            if self.screening is not None and claimed else Screened(kept=claimed))
                await claims.unclaim(conn, screened.deferred, now)
                await claims.skip_claimed(conn, [a.id for a in screened.listed], blocking.SKIPPED_DNC, now)
                deltas: dict[str, Counter[str]] = defaultdict(Counter)
                for attempt in screened.kept:
                    deltas[attempt.execution_id].update({"contacts_pending": -1, "contacts_in_progress": 1})
                for attempt in screened.listed:
                    deltas[attempt.execution_id].update({"contacts_pending": -1, "contacts_skipped": 1,
                                                         counters.SKIPPED_DNC: 1})
                await counters.apply_counter_deltas(conn, deltas, now)
            except BaseException:
                await self.admission.settle(admitted, Counter())  # nothing started: every token back
                raise
        claimed = screened.kept
        await self.admission.settle(admitted, Counter(admitted.organizations[a.execution_id] for a in claimed))
        if screened.listed:
            log.info("contacts skipped: on the do-not-call list", extra={"count": len(screened.listed)})
        if claimed:
            deadlines = {e: self.times.deadline(context[e], now) for e in {a.execution_id for a in claimed}}
            contact_deadlines = {a.id: d for a in claimed
                                 if (g := zone_gates.get(a.execution_id)) and (d := g.deadline(a.zone_key))}
            try:
                await events.publish(self.js, events.dial_requests(claimed, context, deadlines, now,
                                                                   contact_deadlines=contact_deadlines))
            except Exception as exc:  # the lease sweeper re-publishes what did not get out
                log.warning("dial requests not all published", extra={"error": repr(exc), "count": len(claimed)})
        return len(claimed)

    async def _claim_rounds(self, conn: AsyncConnection, admitted: Admitted, wanted: list[Claimant],
                            zone_gates: dict[str, ZoneGate], now: datetime) -> list[Attempt]:
        """Claims what was admitted; what an execution could not use (fewer contacts due than it
        was given) is shared again between the others, for a few rounds at most."""
        allocation = admitted.limits
        locked: dict[str, Claimable] = {}
        out: set[str] = set()  # came short (nothing more due) or could not be locked
        claimed: list[Attempt] = []
        for _ in range(CLAIM_ROUNDS):
            new = [e for e in allocation if e not in locked]
            fresh = await claims.lock_claimable(conn, new, now)
            locked.update(fresh)
            out.update(e for e in new if e not in fresh)
            limits = {e: min(n, locked[e].free) for e, n in allocation.items() if e in locked}
            # Under the row locks, before commit: a pause waits for this transaction, then closes
            # the gate with a newer version, so this open can never outlive it.
            await self.gates.open({e: fresh[e].status_version for e in limits if e in fresh})
            with metrics.CLAIM_LATENCY.time():
                got = await claims.claim_due(conn, limits, now, self.leases.lease_until(now),
                                             {e: list(zone_gates[e].open) for e in limits if e in zone_gates})
            claimed += got
            per_execution = Counter(a.execution_id for a in got)
            short = {e for e, n in limits.items() if per_execution[e] < n}
            if not short or len(claimed) >= admitted.budget:
                break
            out |= short
            for e, n in per_execution.items():
                locked[e] = Claimable(locked[e].free - n, locked[e].status_version)
            wanted = [replace(c, demand=c.demand - per_execution[c.execution_id],
                              holding=c.holding + per_execution[c.execution_id])
                      for c in wanted if c.execution_id not in out]
            allocation = self.admission.again(
                admitted, Counter(admitted.organizations[a.execution_id] for a in got), wanted)
            if not allocation:
                break
        return claimed

    async def _defer_closed(self, zone_gates: dict[str, ZoneGate], now: datetime) -> None:
        """Due contacts of closed zone keys wait for their openings (execution rows locked first)."""
        closing = {e: g.closed for e, g in zone_gates.items() if g.closed}
        if not closing:
            return
        async with self.engine.begin() as conn:
            for execution_id in await claims.lock_for_sweep(conn, list(closing)):
                await claims.defer_closed(conn, execution_id, closing[execution_id], now)

    async def _budget(self) -> int:
        if self.backlog is None or self.backlog_limit <= 0:
            return self.batch_size
        return dispatch_budget(self.batch_size, await self.backlog.undelivered(), self.backlog_limit)

    async def sweep_leases(self, now: datetime) -> None:
        await self.leases.sweep(now)
