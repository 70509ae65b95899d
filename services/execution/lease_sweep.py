"""Attempts in progress past their lease: re-published while their execution may call, given
back otherwise (pending, or skipped once it has ended) instead of being dialled.

Run by every replica's orchestrator tick; the execution rows are locked first (SKIP LOCKED), so
two replicas never take the same expired attempt. The re-publish has the same attempt id (the
dialer de-duplicates by it) and a fresh message id, so JetStream's own duplicate window does
not swallow it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import logs
from kernel.clock import Clock
from services.execution.adapters import claims, counters, events, status_changes
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.claims import Attempt
from services.execution.calling_times import CallingTimes
from services.execution.domain import contacts as ct
from services.execution.domain import status as st

log = logs.get("execution.orchestrator")


class LeaseSweep:
    def __init__(self, engine: AsyncEngine, js: JetStreamContext, clock: Clock, gates: CallGates,
                 times: CallingTimes, lease_seconds: float):
        self.engine = engine
        self.js = js
        self.clock = clock
        self.gates = gates
        self.times = times
        self.lease_seconds = lease_seconds  # real seconds

    def lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.lease_seconds * self.clock.speed)

    async def sweep(self, now: datetime) -> None:
        async with self.engine.begin() as conn:
            execution_ids = await claims.executions_with_expired_leases(conn, now)
            if not execution_ids:
                return
            locked = await claims.lock_for_sweep(conn, execution_ids)
            expired = await claims.take_expired(conn, list(locked), now)
            if not expired:
                return
            # Per expired attempt: re-published (its execution may call now) or given back.
            again: list[Attempt] = []
            given_back: dict[str, list[int]] = defaultdict(list)
            moves: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for attempt in expired:
                execution = locked[attempt.execution_id]
                zones = self.times.zone_gate(execution, now)
                if self.times.may_call(execution, now) and (zones is None or zones.deadline(attempt.zone_key)):
                    again.append(attempt)
                    continue
                target = ct.SKIPPED if st.is_terminal(execution.status) else ct.PENDING
                given_back[target].append(attempt.id)
                moves[attempt.execution_id].append((ct.IN_PROGRESS, target))
            redialled = {a.execution_id for a in again}
            await self.gates.open({e: locked[e].status_version for e in redialled})
            await claims.extend_leases(conn, [a.id for a in again], self.lease_until(now))
            for target, ids in given_back.items():
                await claims.give_back(conn, ids, target, ct.LEASE_RETURNED, now)
            await counters.apply_counter_deltas(conn, {e: ct.counter_deltas(m) for e, m in moves.items()}, now)
            await status_changes.mark_drained(conn, moves, now)
            deadlines = {e: self.times.deadline(locked[e], now) for e in redialled}
        if moves:
            log.info("expired attempts given back: their execution cannot call now",
                     extra={"count": sum(len(ids) for ids in given_back.values())})
        if not again:
            return
        suffix = f":lease:{int(now.timestamp())}"
        log.warning("re-publishing expired attempts", extra={"count": len(again)})
        try:
            contact_deadlines = {a.id: d for a in again if (g := self.times.zone_gate(locked[a.execution_id], now))
                                 and (d := g.deadline(a.zone_key))}
            await events.publish(self.js, events.dial_requests(again, locked, deadlines, now, suffix,
                                                               contact_deadlines=contact_deadlines))
        except Exception as exc:
            log.warning("lease re-publish failed", extra={"error": repr(exc)})
