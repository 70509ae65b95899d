"""Auto-pause counting: the executed nodes of applied results are counted in Redis, and an
execution one of whose rules fired pauses (running → paused_threshold) in the same transaction.

Counted only once the fenced update applied the results, under the executions' row locks, so
the pause commits with the results that caused it. Redis not answering: the calls are kept in
uncounted_results (same transaction) and counted later by `count_deferred`; the execution
dispatches nothing until then, so no call starts past a threshold.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from campaign_rules import auto_pause as ap
from kernel import logs
from kernel.clock import Clock
from services.execution.adapters import deferred_counts
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.deferred_counts import UncountedCall
from services.execution.adapters.executions import LockedExecution
from services.execution.adapters.node_counters import CountedCall, CountersUnavailable, NodeCounters
from services.execution.adapters.status_changes import compare_and_set_status
from services.execution.domain import status as st

log = logs.get("execution.auto_pause")


class Counted(NamedTuple):
    marks: dict[str, list[str]]  # execution id → attempt ids counted, to forget after commit
    paused: dict[str, int]       # execution id → status version, of those paused (gates close after commit)


class AutoPauseCounting:
    def __init__(self, engine: AsyncEngine, counters: NodeCounters, gates: CallGates, clock: Clock):
        self.engine = engine
        self.counters = counters
        self.gates = gates
        self.clock = clock

    async def count(self, conn: AsyncConnection, executions: Mapping[str, LockedExecution],
                    calls: Mapping[str, Sequence[CountedCall]], now: datetime, *, defer: bool,
                    decide: bool = True) -> Counted:
        """Count the calls' nodes and pause every execution one of whose rules fired (unless not
        `decide`); the caller holds the executions' row locks.

        Redis not answering: with `defer` the calls are kept in uncounted_results (same
        transaction) and counted later; otherwise CountersUnavailable propagates."""
        calls = {e: list(c) for e, c in calls.items() if c}
        paused: dict[str, int] = {}
        if not calls:
            return Counted({}, paused)
        request = {e: (c, ap.rule_nodes(executions[e].auto_pause_rules)) for e, c in calls.items()}
        try:
            counts = await self.counters.count(request)
        except CountersUnavailable as exc:
            if not defer:
                raise
            await deferred_counts.defer_counting(conn, [UncountedCall(e, c.attempt_id, c.node_ids)
                                                        for e, cs in calls.items() for c in cs], now)
            log.warning("auto-pause counting deferred: Redis unavailable",
                        extra={"executions": sorted(calls), "error": str(exc)})
            return Counted({}, paused)
        for execution_id, execution_calls in calls.items():
            rules = executions[execution_id].auto_pause_rules
            touched = ap.node_increments(c.node_ids for c in execution_calls)
            fired = ap.fired_rules(rules, touched, counts[execution_id])
            version = fired and decide and await compare_and_set_status(
                conn, execution_id, st.THRESHOLD_PAUSE, now)
            if version:
                paused[execution_id] = version
                log.info("execution paused: auto-pause threshold reached",
                         extra={"execution_id": execution_id,
                                "rules": [(r.node_id, counts[execution_id][r.node_id], r.threshold)
                                          for r in fired]})
        return Counted({e: [c.attempt_id for c in cs] for e, cs in calls.items()}, paused)

    async def reset(self, execution_id: str, nodes: Sequence[str]) -> None:
        """Set these nodes' counters back to zero (a resume); raises CountersUnavailable."""
        await self.counters.reset(execution_id, nodes)

    async def forget(self, marks: Mapping[str, Sequence[str]]) -> None:
        """After commit: the fence guards these attempts from now on."""
        # Best effort: a leftover only keeps an attempt id until the execution ends.
        with contextlib.suppress(CountersUnavailable):
            await self.counters.committed(marks)

    async def count_deferred_of(self, conn: AsyncConnection, execution_ids: Sequence[str] | None, now: datetime,
                                *, decide: bool = True) -> Counted:
        """Count the uncounted results of these executions (or of any, when None) now that Redis
        may answer; results of ended executions or of executions without rules are dropped."""
        executions = await deferred_counts.lock_uncounted(conn, execution_ids)
        if not executions:
            return Counted({}, {})
        calls: dict[str, list[CountedCall]] = defaultdict(list)
        for call in await deferred_counts.uncounted_of(conn, list(executions)):
            execution = executions[call.execution_id]
            if st.is_active(execution.status) and execution.auto_pause_rules:
                calls[call.execution_id].append(CountedCall(call.attempt_id, call.node_ids))
        counted = await self.count(conn, executions, calls, now, defer=False, decide=decide)
        await deferred_counts.clear_uncounted(conn, list(executions))
        return counted

    async def count_deferred(self) -> int:
        """One pass of the deferred counting (the orchestrator runs it); raises while Redis is down."""
        async with self.engine.connect() as conn:
            if not await deferred_counts.any_uncounted(conn):
                return 0
        await self.counters.ping()  # before taking row locks: a Redis still down must not hold them
        async with self.engine.begin() as conn:
            marks, paused = await self.count_deferred_of(conn, None, self.clock.now())
        await self.gates.close_logged(paused)
        await self.forget(marks)
        return sum(len(m) for m in marks.values())
