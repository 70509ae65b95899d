"""Flows in PostgreSQL: written once, never updated."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.db import after_key
from kernel.paging import PageRequest
from services.dialer.domain.flows import Flow, FlowNode


@dataclass(frozen=True)
class FlowRow:
    id: str
    organization_id: str
    flow: Flow
    created_at: datetime


def _nodes_json(flow: Flow) -> str:
    return json.dumps([asdict(node) for node in flow.nodes])


def _row(r) -> FlowRow:
    nodes = r[4] if isinstance(r[4], list) else json.loads(r[4])
    flow = Flow(name=r[2], start_node_id=r[3], nodes=tuple(FlowNode(**n) for n in nodes))
    return FlowRow(r[0], r[1], flow, r[5])


_COLUMNS = "id::text, organization_id::text, name, start_node_id, nodes, created_at"


class FlowRepository:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def add(self, organization_id: str, flow: Flow, now: datetime) -> FlowRow:
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                INSERT INTO flows (id, organization_id, name, start_node_id, nodes, created_at)
                VALUES (:id, :org, :name, :start, CAST(:nodes AS jsonb), :now)
                RETURNING {_COLUMNS}"""), {
                "id": str(uuid.uuid4()), "org": organization_id, "name": flow.name,
                "start": flow.start_node_id, "nodes": _nodes_json(flow), "now": now})).one()
        return _row(row)

    async def get(self, organization_id: str, flow_id: str) -> FlowRow | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM flows WHERE id = :id AND organization_id = :org"""),
                {"id": flow_id, "org": organization_id})).first()
        return _row(row) if row else None

    async def list(self, organization_id: str, wanted: PageRequest) -> list[FlowRow]:
        """The organization's flows, oldest first, after the page's key."""
        after, params = after_key(wanted, "created_at, id", ("timestamptz", "uuid"))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM flows WHERE organization_id = :org AND {after}
                ORDER BY created_at, id LIMIT :limit"""), {"org": organization_id, "limit": wanted.fetch, **params})).all()
        return [_row(r) for r in rows]
