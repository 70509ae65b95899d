"""Use cases of the trigger context: start and end live executions, fire due triggers,
follow contact changes, list triggers."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors, logs, metrics, paging
from kernel.clock import Clock
from services.trigger.adapters import repository as repo
from services.trigger.adapters.audience import AudienceClient
from services.trigger.adapters.publisher import FiredPublisher
from services.trigger.domain import changes
from services.trigger.domain.schedule import Condition

log = logs.get("trigger.service")

STATUSES = ("pending", "triggered", "cancelled")
CLAIM_BATCH = 500
# Real seconds a replica has to publish what it claimed before a sweeper may republish it.
PUBLISH_LEASE_SECONDS = float(os.environ.get("TRIGGER_PUBLISH_LEASE_SECONDS") or 15.0)
# Events that occurred this many real seconds before a snapshot are already in it.
SNAPSHOT_MARGIN_REAL_SECONDS = 5.0


class ExecutionPrecomputing(Exception):
    """A contact event touches a live execution whose snapshot is still being taken."""


@dataclass(frozen=True)
class StartRequest:
    organization_id: str
    program_id: str
    execution_id: str
    condition: Condition
    output_audience_id: str


@dataclass(frozen=True)
class ContactEvent:
    organization_id: str
    contact_id: str
    kind: str  # created | updated | deleted
    phone: str
    name: str | None
    country: str
    changed: dict[str, object]  # slug -> new value (None when removed)
    occurred_at: datetime | None


def _uuid(value: str, field: str, error: type[errors.DomainError] = errors.ValidationError) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise error(f"{field}: must be a UUID", field=field) from None


def condition_of(le: repo.LiveExecution) -> Condition:
    return Condition.create(le.attribute_slug, le.direction, le.offset_days, le.offset_hours, le.offset_minutes)


class TriggerService:
    def __init__(self, engine: AsyncEngine, audience: AudienceClient, publisher: FiredPublisher, clock: Clock):
        self.engine = engine
        self.audience = audience
        self.publisher = publisher
        self.clock = clock

    # --- start / end ---------------------------------------------------------------------------

    async def start_live_execution(self, request: StartRequest) -> int:
        execution_id = _uuid(request.execution_id, "executionId")
        program_id = _uuid(request.program_id, "programId")
        organization_id = _uuid(request.organization_id, "organizationId")
        cond = request.condition
        now = self.clock.now()
        async with self.engine.begin() as conn:
            ended = await repo.is_ended(conn, execution_id)
            await repo.insert_live_execution(conn, repo.LiveExecution(
                execution_id=execution_id, program_id=program_id, organization_id=organization_id,
                attribute_slug=cond.attribute_slug, direction=cond.direction, offset_days=cond.offset.days,
                offset_hours=cond.offset.hours, offset_minutes=cond.offset.minutes,
                output_audience_id=request.output_audience_id, active=not ended, precomputed=ended,
                triggers_created=0, snapshot_at=None, created_at=now))
        # The row is committed first so contact events wait for the snapshot (see handle_contact_event);
        # the row lock makes a concurrent or repeated start wait and then find the work done.
        async with self.engine.begin() as conn:
            le = await repo.lock_live_execution(conn, execution_id)
            if le is None:  # pragma: no cover - the row was just inserted
                raise errors.ExecutionNotFoundError()
            if le.organization_id != organization_id:
                raise errors.ExecutionNotFoundError()
            if le.precomputed:
                return le.triggers_created
            snapshot_at = self.clock.now()
            created = await self._precompute(conn, le, condition_of(le), now)
            await repo.mark_precomputed(conn, execution_id, created, snapshot_at)
        log.info("live execution started", extra={"execution_id": execution_id, "triggers": created})
        return created

    async def _precompute(self, conn, le: repo.LiveExecution, cond: Condition, now: datetime) -> int:
        await repo.create_staging(conn)
        staged = 0
        try:
            async for values in self.audience.attribute_values(le.organization_id, cond.attribute_slug):
                staged += await self._stage(conn, le, cond, values, now)
        except errors.AttributeNotFoundError:
            # The attribute was deleted after the program was created: no contact can match it.
            log.warning("trigger attribute not found", extra={"execution_id": le.execution_id})
            return 0
        if not staged:
            return 0
        return await repo.insert_from_staging(conn)

    async def _stage(self, conn, le: repo.LiveExecution, cond: Condition, values, now: datetime) -> int:
        rows = []
        for item in values:
            value = changes.read_value(item.value)
            if value is None:
                continue
            trigger_at = cond.trigger_at(value)
            if trigger_at is None:
                continue
            contact = item.contact
            rows.append((le.execution_id, le.program_id, le.organization_id, contact.contact_id,
                         contact.name or None, contact.phone, contact.country, value, trigger_at, now))
        if rows:
            await repo.copy_into_staging(conn, rows)
        return len(rows)

    async def end_live_execution(self, execution_id: str) -> int:
        try:
            execution_id = str(uuid.UUID(execution_id))
        except (ValueError, TypeError):
            return 0
        async with self.engine.begin() as conn:
            cancelled = await repo.end_execution(conn, execution_id, self.clock.now())
        if cancelled:
            log.info("live execution ended", extra={"execution_id": execution_id, "cancelled": cancelled})
        return cancelled

    # --- evaluation ----------------------------------------------------------------------------

    async def fire_due(self, limit: int = CLAIM_BATCH) -> int:
        """Fire one batch of due triggers; returns how many were claimed."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            claimed = await repo.claim_due(conn, now, limit, PUBLISH_LEASE_SECONDS)
        for row, _ in claimed:  # evaluation lag: from due (or created, when born due) to fired
            lag = (now - max(row.trigger_at, row.created_at)).total_seconds()
            metrics.TRIGGER_LAG.observe(self.clock.real_seconds(lag))
        if claimed:
            await self._deliver(claimed)
        return len(claimed)

    async def republish_unpublished(self, limit: int = CLAIM_BATCH) -> int:
        async with self.engine.begin() as conn:
            claimed = await repo.claim_unpublished(conn, limit, PUBLISH_LEASE_SECONDS)
        if claimed:
            log.info("republishing fired triggers", extra={"count": len(claimed)})
            await self._deliver(claimed)
        return len(claimed)

    async def _deliver(self, claimed: Sequence[tuple[repo.TriggerRow, str]]) -> None:
        """Output audience first (so a called contact is already in it), then trigger.fired."""
        members: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row, audience_id in claimed:
            if audience_id:
                members[(row.organization_id, audience_id)].append(row.contact_id)
        for (organization_id, audience_id), contact_ids in members.items():
            await self.audience.add_members(organization_id, audience_id, contact_ids)
        rows = [row for row, _ in claimed]
        await self.publisher.publish(rows)
        async with self.engine.begin() as conn:
            await repo.mark_published(conn, [r.id for r in rows])

    # --- contact changes -----------------------------------------------------------------------

    async def relevant_executions(self, organization_ids: Sequence[str]) -> dict[str, list[repo.LiveExecution]]:
        async with self.engine.connect() as conn:
            found = await repo.active_executions(conn, organization_ids)
        by_org: dict[str, list[repo.LiveExecution]] = defaultdict(list)
        for le in found:
            by_org[le.organization_id].append(le)
        return by_org

    async def handle_contact_event(self, event: ContactEvent, executions: Sequence[repo.LiveExecution]) -> None:
        """Apply one contact change to every active live execution of its organization."""
        deleted = event.kind == "deleted"
        concerned = [le for le in executions if deleted or le.attribute_slug in event.changed]
        if any(not le.precomputed for le in concerned):
            raise ExecutionPrecomputing()
        margin = timedelta(seconds=SNAPSHOT_MARGIN_REAL_SECONDS * self.clock.speed)
        now = self.clock.now()
        async with self.engine.begin() as conn:
            if not deleted and event.phone:
                await repo.refresh_contact(conn, event.organization_id, event.contact_id, event.name,
                                           event.phone, event.country)
            for le in concerned:
                if (event.occurred_at is not None and le.snapshot_at is not None
                        and event.occurred_at < le.snapshot_at - margin):
                    continue  # already part of the snapshot taken at launch
                state = await repo.lock_contact(conn, le.execution_id, event.contact_id)
                if (event.occurred_at is not None and state.last_source_at is not None
                        and event.occurred_at < state.last_source_at):
                    continue  # an older change arriving late
                change = (changes.read_value(event.changed[le.attribute_slug])
                          if le.attribute_slug in event.changed else changes.ABSENT)
                action = changes.decide(deleted, change, state.pending_value, state.last_fired_value)
                await self._apply(conn, le, event, state, action, now)

    async def _apply(self, conn, le: repo.LiveExecution, event: ContactEvent, state: repo.ContactState,
                     action: changes.Action, now: datetime) -> None:
        if action.kind is changes.Kind.NOTHING:
            return
        if action.kind is changes.Kind.CANCEL:
            await repo.cancel_trigger(conn, state.pending_id, event.occurred_at)
            return
        trigger_at = condition_of(le).trigger_at(action.value)
        if trigger_at is None:
            if state.pending_id:
                await repo.cancel_trigger(conn, state.pending_id, event.occurred_at)
            return
        if action.kind is changes.Kind.MOVE:
            await repo.move_trigger(conn, state.pending_id, action.value, trigger_at, event.occurred_at)
        elif event.phone:
            await repo.create_trigger(conn, le, event.contact_id, event.name, event.phone, event.country,
                                      action.value, trigger_at, now, event.occurred_at)

    # --- listing -------------------------------------------------------------------------------

    async def list_triggers(self, organization_id: str, program_id: str, status: str, limit: int,
                            cursor: str) -> tuple[list[repo.TriggerRow], str]:
        if status and status not in STATUSES:
            raise errors.ValidationError("status: must be one of pending, triggered, cancelled", field="status")
        limit = paging.page_size(limit)
        try:
            organization_id = str(uuid.UUID(organization_id))
            program_id = str(uuid.UUID(program_id))
        except (ValueError, TypeError):
            return [], ""
        after = _after(cursor)
        async with self.engine.connect() as conn:
            rows = await repo.list_triggers(conn, organization_id, program_id, status or None, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _cursor(rows[-1]) if more and rows else ""
        return [r for r, _ in rows], next_cursor


def _cursor(last: tuple[repo.TriggerRow, datetime]) -> str:
    # The sort key: newest execution first, then trigger time and id.
    row, execution_created_at = last
    return paging.encode(execution_created_at, row.execution_id, row.trigger_at, row.id)


def _after(cursor: str) -> tuple | None:
    key = paging.decode(cursor, 4)
    if key is None:
        return None
    return (paging.instant(key[0]), paging.identifier(key[1]), paging.instant(key[2]), paging.identifier(key[3]))
