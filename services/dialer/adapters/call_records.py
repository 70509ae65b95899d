"""The call_records table as the dialer reads it: its columns, a row as a CallRecord, and the SQL
conditions of the record's states, written from the domain's constants (domain.attempts).

Leases are in database time (now()), so every replica agrees on them; call times are virtual
(the shared clock) and passed in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from services.dialer.domain import attempts
from services.dialer.domain.attempts import CallRecord
from services.dialer.domain.voicemail import AmdResult

COLUMNS = """id::text, attempt_id, execution_id::text, organization_id::text, contact_id, phone, attempt,
    state, owner, did_id::text, did_number, reservation_id, settled, outcome, reason, rejections,
    rejected_stream_seq, started_at, answered_at, ended_at, talk_seconds, node_ids, created_at, sip_code,
    q850_cause, amd_result, amd_decision_ms, amd_features"""
WIDTH = 28  # the number of COLUMNS


def qualified(alias: str) -> str:
    """COLUMNS with every column prefixed by a table alias (for UPDATE … FROM)."""
    return ", ".join(f"{alias}.{c.strip()}" for c in COLUMNS.split(","))


def record(r: Sequence[Any]) -> CallRecord:
    node_ids = r[21] if isinstance(r[21], list) else json.loads(r[21] or "[]")
    return CallRecord(*r[:21], node_ids=node_ids, created_at=r[22], sip_code=r[23], q850_cause=r[24],
                      amd=amd(r[25], r[26], r[27]))


def amd(result: str | None, decision_ms: int | None, features: Any) -> AmdResult | None:
    """The amd_* columns as the record's detection; None when none ran."""
    if result is None:
        return None
    if isinstance(features, str):
        features = json.loads(features)
    return AmdResult(result, int(decision_ms or 0), dict(features or {}))


def amd_columns(value: AmdResult | None) -> tuple[str | None, int | None, str | None]:
    """(amd_result, amd_decision_ms, amd_features as JSON text) of a record's detection."""
    if value is None:
        return None, None, None
    return value.result, value.decision_ms, json.dumps(dict(value.features))


def literal(value: str) -> str:
    """A constant of the domain as an SQL string literal (they hold no quote)."""
    if "'" in value:
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


def state_in(states: Sequence[str], alias: str = "") -> str:
    """SQL: the record is in one of `states`."""
    prefix = f"{alias}." if alias else ""
    if len(states) == 1:
        return f"{prefix}state = {literal(states[0])}"
    return f"{prefix}state IN ({', '.join(literal(s) for s in states)})"


def may_become(target: str, alias: str = "") -> str:
    """SQL: the record may move to `target` (attempts.sources; a finished record only while its
    outcome is unknown, attempts.may_change)."""
    prefix = f"{alias}." if alias else ""
    sources = attempts.sources(target)
    open_states = [s for s in sources if s != attempts.FINISHED]
    parts = [state_in(open_states, alias)] if open_states else []
    if attempts.FINISHED in sources:
        parts.append(f"({prefix}state = {literal(attempts.FINISHED)}"
                     f" AND {prefix}outcome = {literal(attempts.REOPENABLE_OUTCOME)})")
    return parts[0] if len(parts) == 1 else f"({' OR '.join(parts)})"


# A call whose dialer is lost mid-call ends as unknown: talk 0, no node run (placing → finished).
DECLARE_LOST = (f"state = {literal(attempts.FINISHED)}, outcome = {literal(attempts.UNKNOWN)}, "
                f"reason = {literal(attempts.DIALER_LOST)}, ended_at = :now, talk_seconds = 0, "
                "node_ids = '[]'::jsonb, updated_at = now()")
