"""SQLAlchemy Core tables of the dialer schema (the search path selects the schema)."""

from __future__ import annotations

from sqlalchemy import CHAR, BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

dids = Table(
    "dids", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("number", Text, nullable=False),
    Column("country", CHAR(2), nullable=False),
    Column("status", Text, nullable=False),
    Column("organization_id", UUID(as_uuid=False)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
)

flows = Table(
    "flows", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("organization_id", UUID(as_uuid=False), nullable=False),
    Column("name", Text, nullable=False),
    Column("start_node_id", Text, nullable=False),
    Column("nodes", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

call_records = Table(
    "call_records", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("attempt_id", Text, nullable=False, unique=True),
    Column("execution_id", Text, nullable=False),
    Column("organization_id", UUID(as_uuid=False), nullable=False),
    Column("contact_id", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("lease_expires_at", DateTime(timezone=True), nullable=False),
    Column("did_id", UUID(as_uuid=False)),
    Column("did_number", Text),
    Column("reservation_id", Text),
    Column("settled", Boolean, nullable=False),
    Column("outcome", Text),
    Column("reason", Text),
    Column("rejections", Integer, nullable=False),
    Column("rejected_stream_seq", BigInteger),
    Column("started_at", DateTime(timezone=True)),
    Column("answered_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("talk_seconds", Integer, nullable=False),
    Column("node_ids", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
