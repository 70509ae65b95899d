"""The program context's one table (search_path puts it in the `program` schema)."""

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

programs = Table(
    "programs",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("organization_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("audience_id", Text, nullable=False),
    Column("flow_id", Text, nullable=False),
    Column("trigger_condition", JSONB(none_as_null=True)),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("stop_at", DateTime(timezone=True)),
    Column("did_pool", JSONB, nullable=False),
    Column("retry_strategy", JSONB, nullable=False),
    Column("pause_windows", JSONB(none_as_null=True)),
    Column("auto_pause_rules", JSONB(none_as_null=True)),
    Column("timezone", Text, nullable=False),
    Column("max_concurrent_calls", Integer, nullable=False),
    Column("calling_hours", JSONB(none_as_null=True)),
    Column("answering_machine", JSONB(none_as_null=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("archived_at", DateTime(timezone=True)),
)
