"""Reading and writing programs. Every query is scoped by organization."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from kernel.paging import PageRequest
from services.program.adapters.tables import programs
from services.program.domain import status
from services.program.domain.model import Program, ProgramSpec


def _columns(spec: ProgramSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "mode": spec.mode,
        "audience_id": spec.audience_id,
        "flow_id": spec.flow_id,
        "trigger_condition": (trigger_condition.to_json(spec.trigger_condition)
                              if spec.trigger_condition is not None else None),
        "start_at": spec.start_at,
        "stop_at": spec.stop_at,
        "did_pool": list(spec.did_pool),
        "retry_strategy": retry.to_json(spec.retry_strategy),
        "pause_windows": pause_windows.to_json(spec.pause_windows) if spec.pause_windows is not None else None,
        "auto_pause_rules": auto_pause.to_json(spec.auto_pause_rules) if spec.auto_pause_rules is not None else None,
        "timezone": spec.timezone,
        "max_concurrent_calls": spec.max_concurrent_calls,
        "calling_hours": calling_hours.to_json(spec.calling_hours) if spec.calling_hours is not None else None,
        "answering_machine": (answering_machine.to_json(spec.answering_machine)
                              if spec.answering_machine is not None else None),
    }


def _program(row: RowMapping) -> Program:
    spec = ProgramSpec(
        name=row["name"],
        mode=row["mode"],
        audience_id=row["audience_id"],
        flow_id=row["flow_id"],
        trigger_condition=(trigger_condition.from_json(row["trigger_condition"])
                           if row["trigger_condition"] is not None else None),
        start_at=row["start_at"],
        stop_at=row["stop_at"],
        did_pool=tuple(row["did_pool"]),
        retry_strategy=retry.from_json(row["retry_strategy"]),
        pause_windows=pause_windows.from_json(row["pause_windows"]) if row["pause_windows"] is not None else None,
        auto_pause_rules=auto_pause.from_json(row["auto_pause_rules"]),
        timezone=row["timezone"],
        max_concurrent_calls=row["max_concurrent_calls"],
        calling_hours=calling_hours.from_json(row["calling_hours"]),
        answering_machine=answering_machine.from_json(row["answering_machine"]),
    )
    return Program(id=str(row["id"]), organization_id=row["organization_id"], status=row["status"], spec=spec,
                   created_at=row["created_at"], updated_at=row["updated_at"])


async def insert(conn: AsyncConnection, program_id: str, organization_id: str, spec: ProgramSpec,
                 now: datetime) -> Program:
    stmt = programs.insert().values(id=program_id, organization_id=organization_id, status=status.DRAFT,
                                    created_at=now, updated_at=now, **_columns(spec)).returning(programs)
    return _program((await conn.execute(stmt)).mappings().one())


async def get(conn: AsyncConnection, organization_id: str, program_id: str, *, for_update: bool = False,
              include_archived: bool = True) -> Program | None:
    stmt = select(programs).where(programs.c.id == program_id, programs.c.organization_id == organization_id)
    if not include_archived:
        stmt = stmt.where(programs.c.status != status.ARCHIVED)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).mappings().first()
    return _program(row) if row else None


async def list_page(conn: AsyncConnection, organization_id: str, wanted: PageRequest) -> list[Program]:
    """Newest first, `wanted.fetch` programs after `wanted.after`, the (created_at, id) of the last
    program of the previous page."""
    stmt = select(programs).where(programs.c.organization_id == organization_id,
                                  programs.c.status != status.ARCHIVED)
    after = wanted.after
    if after is not None:
        # Typed binds: a row comparison does not infer the column types of its right side.
        last = tuple_(bindparam("after_created_at", after[0], type_=programs.c.created_at.type),
                      bindparam("after_id", after[1], type_=programs.c.id.type))
        stmt = stmt.where(tuple_(programs.c.created_at, programs.c.id) < last)
    stmt = stmt.order_by(programs.c.created_at.desc(), programs.c.id.desc()).limit(wanted.fetch)
    return [_program(row) for row in (await conn.execute(stmt)).mappings()]


async def replace_spec(conn: AsyncConnection, program: Program, spec: ProgramSpec, now: datetime) -> Program:
    stmt = (update(programs).where(programs.c.id == program.id)
            .values(updated_at=now, **_columns(spec)).returning(programs))
    return _program((await conn.execute(stmt)).mappings().one())


async def archive(conn: AsyncConnection, organization_id: str, program_id: str, now: datetime) -> Program | None:
    """Archive once; archiving again changes nothing and answers the archived program."""
    stmt = (update(programs)
            .where(programs.c.id == program_id, programs.c.organization_id == organization_id,
                   programs.c.status.in_(status.sources(status.ARCHIVED)))
            .values(status=status.ARCHIVED, archived_at=now, updated_at=now).returning(programs))
    row = (await conn.execute(stmt)).mappings().first()
    if row:
        return _program(row)
    return await get(conn, organization_id, program_id)


async def mark_active(conn: AsyncConnection, organization_id: str, program_id: str, now: datetime) -> Program | None:
    stmt = (update(programs)
            .where(programs.c.id == program_id, programs.c.organization_id == organization_id,
                   programs.c.status.in_(status.sources(status.ACTIVE)))
            .values(status=status.ACTIVE, updated_at=now).returning(programs))
    row = (await conn.execute(stmt)).mappings().first()
    if row:
        return _program(row)
    return await get(conn, organization_id, program_id)

