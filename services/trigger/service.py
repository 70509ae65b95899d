"""Use cases of the trigger context: start and end live executions, fire due triggers,
follow contact changes, list triggers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from campaign_rules.trigger_condition import Offset, TriggerCondition
from kernel import errors, ids, logs, metrics, paging
from kernel.clock import Clock
from outbound.audience.v1 import audience_pb2
from services.trigger.adapters import live_executions as live_repo
from services.trigger.adapters import triggers as trigger_repo
from services.trigger.adapters.audience import ATTRIBUTE_NOT_FOUND, AudienceClient
from services.trigger.adapters.live_executions import LiveExecution, StagedTrigger
from services.trigger.adapters.publisher import FiredPublisher
from services.trigger.adapters.triggers import ContactState, FiredTrigger, TriggerRow
from services.trigger.domain import changes
from services.trigger.domain import status as st
from services.trigger.domain.errors import ExecutionNotFoundError

log = logs.get("trigger.service")

CLAIM_BATCH = 500
# Events that occurred this many real seconds before a snapshot are already in it.
SNAPSHOT_MARGIN_REAL_SECONDS = 5.0


class ExecutionPrecomputing(Exception):
    """A contact event touches a live execution whose snapshot is still being taken."""


@dataclass(frozen=True)
class StartRequest:
    organization_id: str
    program_id: str
    execution_id: str
    condition: TriggerCondition
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


def condition_of(le: LiveExecution) -> TriggerCondition:
    """The condition a live execution was started with (checked then)."""
    return TriggerCondition(le.attribute_slug, le.direction, Offset(le.offset_days, le.offset_hours, le.offset_minutes))


class TriggerService:
    def __init__(self, engine: AsyncEngine, audience: AudienceClient, publisher: FiredPublisher, clock: Clock, *,
                 publish_lease_seconds: float):
        self.engine = engine
        self.audience = audience
        self.publisher = publisher
        self.clock = clock
        # Real seconds a replica has to publish what it claimed before a sweeper may republish it.
        self.publish_lease_seconds = publish_lease_seconds

    # --- start / end ---------------------------------------------------------------------------

    async def start_live_execution(self, request: StartRequest) -> int:
        execution_id = ids.text(request.execution_id, errors.ValidationError, field="executionId")
        program_id = ids.text(request.program_id, errors.ValidationError, field="programId")
        organization_id = ids.text(request.organization_id, errors.ValidationError, field="organizationId")
        cond = request.condition
        now = self.clock.now()
        async with self.engine.begin() as conn:
            ended = await live_repo.is_ended(conn, execution_id)
            await live_repo.insert(conn, LiveExecution(
                execution_id=execution_id, program_id=program_id, organization_id=organization_id,
                attribute_slug=cond.attribute_slug, direction=cond.direction, offset_days=cond.offset.days,
                offset_hours=cond.offset.hours, offset_minutes=cond.offset.minutes,
                output_audience_id=request.output_audience_id, active=not ended, precomputed=ended,
                triggers_created=0, snapshot_at=None, created_at=now))
        # The row is committed first so contact events wait for the snapshot (see handle_contact_event);
        # the row lock makes a concurrent or repeated start wait and then find the work done.
        async with self.engine.begin() as conn:
            le = await live_repo.lock(conn, execution_id)
            if le is None:  # pragma: no cover - the row was just inserted
                raise ExecutionNotFoundError()
            if le.organization_id != organization_id:
                raise ExecutionNotFoundError()
            if le.precomputed:
                return le.triggers_created
            snapshot_at = self.clock.now()
            created = await self._precompute(conn, le, condition_of(le), now)
            await live_repo.mark_precomputed(conn, execution_id, created, snapshot_at)
        log.info("live execution started", extra={"execution_id": execution_id, "triggers": created})
        return created

    async def _precompute(self, conn: AsyncConnection, le: LiveExecution, cond: TriggerCondition,
                          now: datetime) -> int:
        await live_repo.create_staging(conn)
        staged = 0
        try:
            async for values in self.audience.attribute_values(le.organization_id, cond.attribute_slug):
                staged += await self._stage(conn, le, cond, values, now)
        except errors.NotFoundError as exc:
            if not errors.is_named(exc, ATTRIBUTE_NOT_FOUND):
                raise
            # The attribute was deleted after the program was created: no contact can match it.
            log.warning("trigger attribute not found", extra={"execution_id": le.execution_id})
            return 0
        if not staged:
            return 0
        return await live_repo.insert_from_staging(conn)

    async def _stage(self, conn: AsyncConnection, le: LiveExecution, cond: TriggerCondition,
                     values: Iterable[audience_pb2.AttributeValue], now: datetime) -> int:
        rows = []
        for item in values:
            value = changes.read_value(item.value)
            if value is None:
                continue
            trigger_at = cond.trigger_at(value)
            if trigger_at is None:
                continue
            contact = item.contact
            rows.append(StagedTrigger(le.execution_id, le.program_id, le.organization_id, contact.contact_id,
                                      contact.name or None, contact.phone, contact.country, value, trigger_at, now))
        if rows:
            await live_repo.copy_into_staging(conn, rows)
        return len(rows)

    async def end_live_execution(self, execution_id: str) -> int:
        canonical = ids.canonical(execution_id)
        if canonical is None:
            return 0
        execution_id = canonical
        async with self.engine.begin() as conn:
            cancelled = await live_repo.end(conn, execution_id, self.clock.now())
        if cancelled:
            log.info("live execution ended", extra={"execution_id": execution_id, "cancelled": cancelled})
        return cancelled

    # --- evaluation ----------------------------------------------------------------------------

    async def fire_due(self, limit: int = CLAIM_BATCH) -> int:
        """Fire one batch of due triggers; returns how many were claimed."""
        now = self.clock.now()
        async with self.engine.begin() as conn:
            claimed = await trigger_repo.claim_due(conn, now, limit, self.publish_lease_seconds)
        for fired in claimed:  # evaluation lag: from due (or created, when born due) to fired
            lag = (now - max(fired.trigger.trigger_at, fired.trigger.created_at)).total_seconds()
            metrics.TRIGGER_LAG.observe(self.clock.real_seconds(lag))
        if claimed:
            await self._deliver(claimed)
        return len(claimed)

    async def republish_unpublished(self, limit: int = CLAIM_BATCH) -> int:
        async with self.engine.begin() as conn:
            claimed = await trigger_repo.claim_unpublished(conn, limit, self.publish_lease_seconds)
        if claimed:
            log.info("republishing fired triggers", extra={"count": len(claimed)})
            await self._deliver(claimed)
        return len(claimed)

    async def _deliver(self, claimed: Sequence[FiredTrigger]) -> None:
        """Output audience first (so a called contact is already in it), then trigger.fired."""
        members: dict[tuple[str, str], list[str]] = defaultdict(list)
        for fired in claimed:
            if fired.output_audience_id:
                members[(fired.trigger.organization_id, fired.output_audience_id)].append(fired.trigger.contact_id)
        for (organization_id, audience_id), contact_ids in members.items():
            await self.audience.add_members(organization_id, audience_id, contact_ids)
        rows = [fired.trigger for fired in claimed]
        await self.publisher.publish(rows)
        async with self.engine.begin() as conn:
            await trigger_repo.mark_published(conn, [r.id for r in rows])

    # --- contact changes -----------------------------------------------------------------------

    async def relevant_executions(self, organization_ids: Sequence[str]) -> dict[str, list[LiveExecution]]:
        async with self.engine.connect() as conn:
            found = await live_repo.active(conn, organization_ids)
        by_org: dict[str, list[LiveExecution]] = defaultdict(list)
        for le in found:
            by_org[le.organization_id].append(le)
        return by_org

    async def handle_contact_event(self, event: ContactEvent, executions: Sequence[LiveExecution]) -> None:
        """Apply one contact change to every active live execution of its organization."""
        deleted = event.kind == "deleted"
        concerned = [le for le in executions if deleted or le.attribute_slug in event.changed]
        if any(not le.precomputed for le in concerned):
            raise ExecutionPrecomputing()
        margin = timedelta(seconds=SNAPSHOT_MARGIN_REAL_SECONDS * self.clock.speed)
        now = self.clock.now()
        async with self.engine.begin() as conn:
            if not deleted and event.phone:
                await trigger_repo.refresh_contact(conn, event.organization_id, event.contact_id, event.name,
                                           event.phone, event.country)
            for le in concerned:
                if (event.occurred_at is not None and le.snapshot_at is not None
                        and event.occurred_at < le.snapshot_at - margin):
                    continue  # already part of the snapshot taken at launch
                state = await trigger_repo.lock_contact(conn, le.execution_id, event.contact_id)
                if (event.occurred_at is not None and state.last_source_at is not None
                        and event.occurred_at < state.last_source_at):
                    continue  # an older change arriving late
                change = (changes.read_value(event.changed[le.attribute_slug])
                          if le.attribute_slug in event.changed else changes.ABSENT)
                action = changes.decide(deleted, change, state.pending_value, state.last_fired_value)
                await self._apply(conn, le, event, state, action, now)

    async def _apply(self, conn: AsyncConnection, le: LiveExecution, event: ContactEvent, state: ContactState,
                     action: changes.Action, now: datetime) -> None:
        if action.kind is changes.Kind.NOTHING:
            return
        if action.kind is changes.Kind.CANCEL:
            await trigger_repo.cancel(conn, state.pending_id, event.occurred_at)
            return
        trigger_at = condition_of(le).trigger_at(action.value)
        if trigger_at is None:
            if state.pending_id:
                await trigger_repo.cancel(conn, state.pending_id, event.occurred_at)
            return
        if action.kind is changes.Kind.MOVE:
            await trigger_repo.move(conn, state.pending_id, action.value, trigger_at, event.occurred_at)
        elif event.phone:
            await trigger_repo.create(conn, le, event.contact_id, event.name, event.phone, event.country,
                                      action.value, trigger_at, now, event.occurred_at)

    # --- listing -------------------------------------------------------------------------------

    async def list_triggers(self, organization_id: str, program_id: str, status: str, limit: int,
                            cursor: str) -> tuple[list[TriggerRow], str]:
        if status and status not in st.ALL:
            raise errors.ValidationError(f"status: must be one of {', '.join(st.ALL)}", field="status")
        # The sort key: newest execution first, then trigger time and id.
        wanted = paging.request(limit, cursor, paging.instant, paging.identifier, paging.instant, paging.identifier)
        organization, program = ids.canonical(organization_id), ids.canonical(program_id)
        if organization is None or program is None:
            return [], ""
        async with self.engine.connect() as conn:
            rows = await trigger_repo.list_page(conn, organization, program, status or None, wanted)
        page, next_cursor = paging.page(rows, wanted, key=lambda r: (
            r.execution_created_at, r.trigger.execution_id, r.trigger.trigger_at, r.trigger.id))
        return [r.trigger for r in page], next_cursor
