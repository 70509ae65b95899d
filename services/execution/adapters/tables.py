"""The execution context's tables (DDL lives in the migrations; these name the columns), and the
domain's status and state names as SQL literals.

Statuses and contact states are written into the SQL as literals generated from the domain's
constants, never typed by hand: a literal (not a bind parameter) lets the planner match the
partial indexes over those states (the pending contacts, the active statuses).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from services.execution.domain import contacts as ct
from services.execution.domain import status as st


def literal(name: str) -> str:
    """A status or state name as an SQL string literal."""
    return "'" + name.replace("'", "''") + "'"


def one_of(names: Iterable[str]) -> str:
    """`(...)` of status or state names, for `IN`."""
    return "(" + ", ".join(literal(n) for n in names) + ")"


ACTIVE_SQL = one_of(st.ACTIVE)
TERMINAL_SQL = one_of(st.TERMINAL)
PENDING_SQL = literal(ct.PENDING)
IN_PROGRESS_SQL = literal(ct.IN_PROGRESS)
SKIPPED_SQL = literal(ct.SKIPPED)

metadata = MetaData()

executions = Table(
    "executions", metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("organization_id", Text, nullable=False),
    Column("program_id", Text, nullable=False),
    Column("audience_id", Text, nullable=False),
    Column("flow_id", Text, nullable=False),
    Column("mode", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("timezone", Text, nullable=False),
    Column("did_pool", JSONB, nullable=False),
    Column("retry_strategy", JSONB, nullable=False),
    Column("pause_windows", JSONB),
    Column("auto_pause_rules", JSONB),
    Column("trigger_condition", JSONB),
    Column("max_concurrent_calls", Integer, nullable=False),
    Column("total_contacts", Integer, nullable=False),
    Column("contacts_completed", Integer, nullable=False),
    Column("contacts_failed", Integer, nullable=False),
    Column("contacts_pending", Integer, nullable=False),
    Column("contacts_in_progress", Integer, nullable=False),
    Column("contacts_skipped", Integer, nullable=False),
    Column("scheduled_start_at", DateTime(timezone=True), nullable=False),
    Column("scheduled_stop_at", DateTime(timezone=True)),
    Column("actual_start_at", DateTime(timezone=True)),
    Column("actual_end_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("launch_notified", Boolean, nullable=False),
    Column("end_notified", Boolean, nullable=False),
    Column("inserted_at", DateTime(timezone=True), nullable=False),
    Column("uncounted_results", Integer, nullable=False),
    Column("status_version", BigInteger, nullable=False),
    Column("program_confirmed", Boolean, nullable=False),
    Column("calling_hours", JSONB),
    Column("zone_keys", ARRAY(Text)),
    Column("contacts_skipped_dnc", Integer, nullable=False),
    Column("answering_machine", JSONB),
)

execution_contacts = Table(
    "execution_contacts", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("execution_id", UUID(as_uuid=False), nullable=False),
    Column("contact_ref", Text, nullable=False),
    Column("contact_id", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("country", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_outcome", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("zone_key", Text),
    Column("skipped_reason", Text),
)

uncounted_results = Table(
    "uncounted_results", metadata,
    Column("execution_id", UUID(as_uuid=False), primary_key=True),
    Column("attempt_id", Text, primary_key=True),
    Column("node_ids", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Columns of the executions row the service reads (everything but the bookkeeping).
_BOOKKEEPING = ("launch_notified", "end_notified", "inserted_at", "uncounted_results", "status_version",
                "program_confirmed", "zone_keys")
EXECUTION_COLUMNS = ", ".join(c.name for c in executions.columns if c.name not in _BOOKKEEPING)
