"""SQL reads of an execution's contacts for the "why not called" answer (no locks: a read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.db import after_key
from kernel.paging import PageRequest

_COLUMNS = "contact_ref, contact_id, phone, state, attempt, last_outcome, next_attempt_at, zone_key, skipped_reason"


@dataclass(frozen=True)
class ContactState:
    contact_ref: str
    contact_id: str
    phone: str
    state: str
    attempt: int
    last_outcome: str | None
    next_attempt_at: datetime
    zone_key: str | None
    skipped_reason: str | None


def _state(r: Any) -> ContactState:
    return ContactState(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], r[8])


async def page_of(conn: AsyncConnection, execution_id: str, state: str | None, page: PageRequest) -> list[ContactState]:
    """`page.fetch` contacts after `page.after` (contact ref order: the unique index's)."""
    clauses = ["execution_id = CAST(:id AS uuid)"]
    params: dict[str, Any] = {"id": execution_id, "limit": page.fetch}
    if state:
        clauses.append("state = :state")
        params["state"] = state
    after, after_params = after_key(page, "contact_ref", ("text",))
    clauses.append(after)
    params.update(after_params)
    result = await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM execution_contacts WHERE {' AND '.join(clauses)}
        ORDER BY contact_ref LIMIT :limit"""), params)
    return [_state(r) for r in result]


async def by_contact_id(conn: AsyncConnection, execution_id: str, contact_id: str) -> ContactState | None:
    """The contact's entry; a live execution's latest one (a contact triggered twice is in it twice).

    A batch contact's ref is its id (one indexed lookup); a live one's is its trigger, so live
    executions, small by nature, are searched by contact id."""
    params = {"id": execution_id, "cid": contact_id}
    result = await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM execution_contacts WHERE execution_id = CAST(:id AS uuid) AND contact_ref = :cid"""),
        params)
    row = result.first()
    if row is None:
        result = await conn.execute(text(f"""
            SELECT {_COLUMNS} FROM execution_contacts WHERE execution_id = CAST(:id AS uuid) AND contact_id = :cid
            ORDER BY id DESC LIMIT 1"""), params)
        row = result.first()
    return _state(row) if row else None
