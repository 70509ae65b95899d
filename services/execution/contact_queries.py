"""Why a contact has not been called yet: the contacts of an execution, each with the first rule
that holds it now (domain/blocking.py), asked with the facts the orchestrator and the dialer
act on: the execution's status, stopAt, pause windows and calling hours, the contact's zones, the
organization's do-not-call list and frequency cap as they stand (read from the audience service
and from the cap's counted attempts in Redis), the credits available and the execution's
concurrency. A contact that is not pending is held by nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from campaign_rules.contact_zones import zones_of
from kernel import paging
from kernel.clock import Clock
from kernel.errors import ValidationError
from services.execution.adapters import contact_reads
from services.execution.adapters.contact_caps import CapAsk, ContactCaps
from services.execution.adapters.contact_reads import ContactState
from services.execution.adapters.executions import ExecutionRow
from services.execution.adapters.peers import Peers
from services.execution.domain import blocking
from services.execution.domain import contacts as ct
from services.execution.domain.contacts import attempt_id
from services.execution.domain.errors import ContactNotFoundError
from services.execution.queries import Queries


@dataclass(frozen=True)
class ContactView:
    contact_id: str
    phone: str
    state: str
    attempts: int
    last_outcome: str | None
    next_attempt_at: datetime | None  # pending only
    blocked_by: str | None
    skipped_reason: str | None


class ContactQueries:
    def __init__(self, engine: AsyncEngine, executions: Queries, peers: Peers, caps: ContactCaps, clock: Clock):
        self.engine = engine
        self.executions = executions
        self.peers = peers
        self.caps = caps
        self.clock = clock

    async def list(self, organization_id: str, execution_id: str, state: str, limit: int,
                   cursor: str) -> tuple[list[ContactView], str]:
        if state and state not in ct.STATES:
            raise ValidationError(f"state: must be one of {', '.join(ct.STATES)}", field="state")
        page = paging.request(limit, cursor, paging.text)
        execution = await self.executions.get(organization_id, execution_id)
        async with self.engine.connect() as conn:
            rows = await contact_reads.page_of(conn, execution_id, state or None, page)
        shown, next_cursor = paging.page(rows, page, key=lambda r: (r.contact_ref,))
        return await self._views(execution, shown), next_cursor

    async def get(self, organization_id: str, execution_id: str, contact_id: str) -> ContactView:
        execution = await self.executions.get(organization_id, execution_id)
        async with self.engine.connect() as conn:
            row = await contact_reads.by_contact_id(conn, execution_id, contact_id)
        if row is None:
            raise ContactNotFoundError()
        return (await self._views(execution, [row]))[0]

    async def _views(self, execution: ExecutionRow, rows: Sequence[ContactState]) -> list[ContactView]:
        now = self.clock.now()
        pending = [r for r in rows if r.state == ct.PENDING]
        facts = await self._execution_facts(execution, bool(pending))
        phones = sorted({r.phone for r in pending})
        listed = await self.peers.listed_dnc(execution.organization_id, phones) if phones else set()
        held: dict[str, datetime | None] = {}
        limits = await self.peers.contact_limits(execution.organization_id) if phones else None
        if limits is not None:
            # Each contact asks with its own next attempt: one already counted (its claim in
            # flight) is not held by the cap.
            asks = [CapAsk(r.phone, attempt_id(execution.id, r.contact_ref, r.attempt + 1)) for r in pending]
            answers = await self.caps.peek(execution.organization_id, asks, limits, now)
            held = {r.contact_ref: until for r, until in zip(pending, answers, strict=True)}
        views = []
        for r in rows:
            contact = blocking.ContactFacts(r.state, r.next_attempt_at, zones_of(r.zone_key) if r.zone_key else (),
                                            r.phone in listed, held.get(r.contact_ref))
            views.append(ContactView(
                r.contact_id, r.phone, r.state, r.attempt, r.last_outcome,
                r.next_attempt_at if r.state == ct.PENDING else None, blocking.blocked_by(facts, contact, now),
                blocking.skipped_reason(r.state, r.skipped_reason, execution.status)))
        return views

    async def _execution_facts(self, execution: ExecutionRow, any_pending: bool) -> blocking.ExecutionFacts:
        credits = None
        if any_pending:
            try:
                credits = await self.peers.available_credits(execution.organization_id)
            except Exception:  # unknown credits hold nothing in the answer; the dialer still checks them
                credits = None
        return blocking.ExecutionFacts(
            execution.status, execution.scheduled_stop_at, execution.pause_windows, execution.timezone,
            execution.calling_hours, execution.max_concurrent_calls, execution.contacts_in_progress, credits)
