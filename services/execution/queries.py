"""Reading executions: one, with its auto-pause counters, or a page of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from campaign_rules import auto_pause as ap
from campaign_rules.auto_pause import CounterView
from kernel import ids, logs, paging
from kernel.clock import Clock
from services.execution.adapters import executions
from services.execution.adapters.executions import ExecutionRow
from services.execution.adapters.node_counters import CountersUnavailable, NodeCounters
from services.execution.domain import status as st
from services.execution.domain.errors import ExecutionNotFoundError
from services.execution.domain.pause_reason import pause_window_end

log = logs.get("execution.queries")


@dataclass(frozen=True)
class ExecutionDetail:
    execution: ExecutionRow
    # A list while it is active (empty without rules); None once it has ended (the counters are
    # deleted) or when Redis does not answer.
    auto_pause_counters: list[CounterView] | None
    # Running but inside a pause window: when the window ends (None: not held by one).
    held_until: datetime | None = None


class Queries:
    def __init__(self, engine: AsyncEngine, counters: NodeCounters, clock: Clock | None = None):
        self.engine = engine
        self.counters = counters
        self.clock = clock  # None: heldBy is not computed

    async def get(self, organization_id: str, execution_id: str) -> ExecutionRow:
        ids.parse(execution_id, ExecutionNotFoundError)
        async with self.engine.connect() as conn:
            row = await executions.get_execution(conn, organization_id, execution_id)
        if row is None:
            raise ExecutionNotFoundError()
        return row

    async def get_detail(self, organization_id: str, execution_id: str) -> ExecutionDetail:
        row = await self.get(organization_id, execution_id)
        counters = None
        if st.is_active(row.status):
            try:
                counts = await self.counters.read(execution_id, ap.rule_nodes(row.auto_pause_rules))
                counters = ap.counter_views(row.auto_pause_rules, counts)
            except CountersUnavailable as exc:
                log.warning("auto-pause counters unreadable", extra={"execution_id": execution_id,
                                                                     "error": str(exc)})
        held_until = None
        if row.status == st.RUNNING and self.clock is not None:
            held_until = pause_window_end(row.pause_windows, row.timezone, self.clock.now())
        return ExecutionDetail(row, counters, held_until)

    async def list(self, organization_id: str, program_id: str, active_only: bool, limit: int,
                   cursor: str) -> tuple[list[ExecutionRow], str]:
        """Newest first; the page and the next page's cursor ("" on the last page)."""
        page = paging.request(limit, cursor, paging.instant, paging.identifier)
        async with self.engine.connect() as conn:
            rows = await executions.list_executions(conn, organization_id, program_id or None, active_only, page)
        return paging.page(rows, page, key=lambda row: (row.created_at, row.id))
