"""Program use cases: create, read, list, patch, archive, mark active."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors, ids, logs, paging
from kernel.clock import get_clock
from services.program.adapters import repository
from services.program.adapters.peers import Peers
from services.program.domain import status
from services.program.domain.errors import ProgramNotFoundError
from services.program.domain.model import DidItem, Program, ProgramDraft, ProgramSpec, ProgramView
from services.program.domain.patch import apply_patch, draft_of
from services.program.domain.validation import (
    check_message_node,
    check_program,
    check_rule_nodes,
    check_trigger_attribute,
)

log = logs.get("program.service")

ALL_FIELDS = frozenset({"name", "audienceId", "flowId", "startAt", "stopAt", "didPool", "retryStrategy",
                        "pauseWindows", "autoPauseRules", "triggerCondition", "answeringMachine"})


class Events(Protocol):
    async def archived(self, program: Program) -> None: ...


class ProgramService:
    def __init__(self, engine: AsyncEngine, peers: Peers, events: Events):
        self._engine = engine
        self._peers = peers
        self._events = events

    # --- validation against other contexts ---

    async def _check_references(self, organization_id: str, spec: ProgramSpec,
                                changed: Iterable[str]) -> dict[str, DidItem] | None:
        """Re-check what other services hold for the fields that changed; the resolved DIDs if
        the pool was checked. Unchanged references are not re-checked on PATCH, so a DID
        deactivated since creation does not block renaming a program (launch checks again)."""
        changed = set(changed)
        if changed & {"flowId", "autoPauseRules", "answeringMachine"}:
            nodes = await self._peers.flow_nodes(organization_id, spec.flow_id)
            check_rule_nodes(spec.auto_pause_rules, nodes)
            check_message_node(spec.answering_machine, nodes)
        if "audienceId" in changed and spec.audience_id:
            await self._peers.check_audience(organization_id, spec.audience_id)
        if "triggerCondition" in changed and spec.trigger_condition is not None:
            check_trigger_attribute(spec.trigger_condition, await self._peers.attribute_types(organization_id))
        if "didPool" in changed:
            return await self._peers.resolve_dids(organization_id, spec.did_pool, validate=True)
        return None

    async def _view(self, program: Program, dids: dict[str, DidItem] | None = None) -> ProgramView:
        if dids is None:
            dids = await self._peers.resolve_dids(program.organization_id, program.spec.did_pool, validate=False)
        return ProgramView(program, tuple(dids[i] for i in program.spec.did_pool if i in dids))

    # --- use cases ---

    async def create(self, organization_id: str, draft: ProgramDraft) -> ProgramView:
        spec = check_program(draft)
        dids = await self._check_references(organization_id, spec, ALL_FIELDS)
        if spec.audience_id is None:
            # Live program without an audience: its output audience, made only once all else passed.
            spec = spec.with_audience(await self._peers.create_audience(
                organization_id, spec.name, f"Contacts triggered by the live program '{spec.name}'"))
        async with self._engine.begin() as conn:
            program = await repository.insert(conn, str(uuid.uuid4()), organization_id, spec, get_clock().now())
        return await self._view(program, dids)

    async def get(self, organization_id: str, program_id: str, include_archived: bool = False) -> ProgramView:
        if not ids.is_uuid(program_id):
            raise ProgramNotFoundError()
        async with self._engine.connect() as conn:
            program = await repository.get(conn, organization_id, program_id, include_archived=include_archived)
        if program is None:
            raise ProgramNotFoundError()
        return await self._view(program)

    async def list(self, organization_id: str, limit: int, cursor: str) -> tuple[list[ProgramView], str]:
        wanted = paging.request(limit, cursor, paging.instant, paging.identifier)
        async with self._engine.connect() as conn:
            rows = await repository.list_page(conn, organization_id, wanted)
        page, next_cursor = paging.page(rows, wanted, key=lambda p: (p.created_at, p.id))
        # One dialer call for the whole page.
        dids = await self._peers.resolve_dids(organization_id, (d for p in page for d in p.spec.did_pool),
                                              validate=False)
        return [await self._view(p, dids) for p in page], next_cursor

    async def update(self, organization_id: str, program_id: str, patch: ProgramDraft,
                     mask: Iterable[str]) -> ProgramView:
        if not ids.is_uuid(program_id):
            raise ProgramNotFoundError()
        async with self._engine.begin() as conn:
            # The row lock serialises concurrent PATCHes and a concurrent archive.
            current = await repository.get(conn, organization_id, program_id, for_update=True)
            if current is None:
                raise ProgramNotFoundError()
            if current.status == status.ARCHIVED:
                raise errors.BadRequestException("Program is archived and can no longer be changed")
            merged, changed = apply_patch(draft_of(current.spec), patch, mask)
            if not changed:
                program, dids = current, None
            else:
                spec = check_program(merged)
                dids = await self._check_references(organization_id, spec, changed)
                program = await repository.replace_spec(conn, current, spec, get_clock().now())
        return await self._view(program, dids)

    async def archive(self, organization_id: str, program_id: str) -> ProgramView:
        """Archive the program and cancel its active execution before answering, so no call starts
        after the answer; program.archived is still published for any other listener. A failure
        after the commit answers 503: the archive holds, and a repeated DELETE finishes the rest."""
        if not ids.is_uuid(program_id):
            raise ProgramNotFoundError()
        async with self._engine.begin() as conn:
            program = await repository.archive(conn, organization_id, program_id, get_clock().now())
        if program is None:
            raise ProgramNotFoundError()
        try:
            cancelled = await self._peers.cancel_active_execution(organization_id, program_id)
        except errors.DomainError as exc:
            log.warning("execution of an archived program not cancelled",
                        extra={"program_id": program.id, "error": exc.name})
            raise errors.UnavailableError("Program archived, but its execution was not cancelled; retry") from None
        if cancelled:
            log.info("active execution cancelled with its program", extra={"program_id": program.id,
                                                                          "execution_id": cancelled})
        try:
            await self._events.archived(program)
        except Exception as exc:
            # The archive is committed; a repeated DELETE publishes again.
            log.warning("program.archived not published", extra={"program_id": program.id, "error": repr(exc)})
            raise errors.UnavailableError("Program archived, but its executions were not notified; retry") from None
        return await self._view(program)

    async def mark_active(self, organization_id: str, program_id: str) -> ProgramView:
        if not ids.is_uuid(program_id):
            raise ProgramNotFoundError()
        async with self._engine.begin() as conn:
            program = await repository.mark_active(conn, organization_id, program_id, get_clock().now())
        if program is None:
            raise ProgramNotFoundError()
        return await self._view(program)
