"""SQL of an execution's contacts: the launch's COPY, fired triggers' contacts, and the fenced
updates applying call results. Every function runs inside the caller's transaction.

Lock order as everywhere in this context: execution rows first, then contact rows (by id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.timefmt import iso
from services.execution.adapters.tables import IN_PROGRESS_SQL, PENDING_SQL, SKIPPED_SQL
from services.execution.domain import contacts as ct


@dataclass(frozen=True)
class ContactRow:
    """A contact locked for applying results: where it stands (state, attempt, last outcome)."""

    id: int
    execution_id: str
    contact_ref: str
    state: str
    attempt: int
    last_outcome: str | None


@dataclass(frozen=True)
class ContactUpdate:
    id: int
    expected_attempt: int
    expected_state: str
    expected_outcome: str | None  # fences a late result (a contact no longer in progress)
    state: str
    attempt: int
    next_attempt_at: datetime | None
    outcome: str


@dataclass(frozen=True)
class LiveContact:
    """A fired trigger's contact: contact_ref is the trigger id (a contact triggered twice is called twice)."""

    execution_id: str
    trigger_id: str
    contact_id: str
    phone: str
    country: str
    zone_key: str | None = None  # set when the execution has calling hours


def _copy_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_column(values: Sequence[str]) -> Sequence[str]:
    """The column escaped for COPY text format; as is when nothing in it needs escaping (the usual case)."""
    joined = "".join(values)
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [_copy_field(v) for v in values]
    return values


@dataclass(frozen=True)
class Copied:
    total: int
    zone_keys: set[str] | None  # the distinct zone keys written; None when none were asked for


async def copy_batch_contacts(conn: AsyncConnection, execution_id: str,
                              batches: AsyncIterator[tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]]],
                              now: datetime, zone_key_of: Callable[[str, str], str] | None = None) -> Copied:
    """COPY every streamed contact into the execution's contact table; a contact listed twice once.

    Each batch is four columns: contact ids, phones, countries, time zones. With `zone_key_of`
    (phone, time zone → key: the execution has calling hours) each row gets its zone key."""
    raw = await conn.get_raw_connection()
    pg = raw.driver_connection
    stamp = iso(now)
    tail = f"\t{ct.PENDING}\t0\t{stamp}\t{stamp}"
    seen: set[str] = set()
    keys: set[str] | None = None if zone_key_of is None else set()
    async with pg.cursor() as cursor, cursor.copy(
        "COPY execution_contacts (execution_id, contact_ref, contact_id, phone, country, state, attempt,"
        " next_attempt_at, updated_at, zone_key) FROM STDIN"
    ) as copy:
        async for ids, phones, countries, zones in batches:
            if not len(ids) == len(phones) == len(countries) == len(zones):
                raise ValueError("contact columns of different lengths")
            batch_ids = set(ids)
            if len(batch_ids) == len(ids) and seen.isdisjoint(batch_ids):
                seen |= batch_ids
            else:  # a contact seen before: its first row only
                kept: tuple[list[str], list[str], list[str], list[str]] = ([], [], [], [])
                for cid, phone, country, zone in zip(ids, phones, countries, zones, strict=True):
                    if cid not in seen:
                        seen.add(cid)
                        for column, value in zip(kept, (cid, phone, country, zone), strict=True):
                            column.append(value)
                ids, phones, countries, zones = kept
            if not ids:
                continue
            if zone_key_of is None or keys is None:
                zone_keys: Sequence[str] = ["\\N"] * len(ids)  # NULL
            else:
                zone_keys = [zone_key_of(p, z) for p, z in zip(phones, zones, strict=True)]
                keys.update(zone_keys)
                zone_keys = _copy_column(zone_keys)
            ids, phones, countries = (_copy_column(column) for column in (ids, phones, countries))
            await copy.write("".join([f"{execution_id}\t{c}\t{c}\t{p}\t{n}{tail}\t{k}\n"
                                      for c, p, n, k in zip(ids, phones, countries, zone_keys, strict=True)]))
    return Copied(len(seen), keys)


async def insert_live_contacts(conn: AsyncConnection, contacts: Sequence[LiveContact], now: datetime) -> list[str]:
    """The execution id of each contact inserted (a trigger already added is skipped)."""
    if not contacts:
        return []
    result = await conn.execute(text(f"""
        INSERT INTO execution_contacts (execution_id, contact_ref, contact_id, phone, country, state,
            attempt, next_attempt_at, updated_at, zone_key)
        SELECT r.e, r.ref, r.cid, r.phone, r.country, {PENDING_SQL}, 0, :now, :now, r.zone
        FROM unnest(CAST(:eids AS uuid[]), CAST(:refs AS text[]), CAST(:cids AS text[]), CAST(:phones AS text[]),
                    CAST(:countries AS text[]), CAST(:zones AS text[])) AS r(e, ref, cid, phone, country, zone)
        ON CONFLICT (execution_id, contact_ref) DO NOTHING RETURNING execution_id"""),
        {"eids": [c.execution_id for c in contacts], "refs": [c.trigger_id for c in contacts],
         "cids": [c.contact_id for c in contacts], "phones": [c.phone for c in contacts],
         "countries": [c.country for c in contacts], "zones": [c.zone_key for c in contacts], "now": now})
    return [str(r[0]) for r in result]


async def skip_pending(conn: AsyncConnection, execution_id: str, now: datetime) -> int:
    """Every pending contact of the execution becomes skipped; counters follow."""
    result = await conn.execute(text(f"""
        WITH skipped AS (
            UPDATE execution_contacts SET state = {SKIPPED_SQL}, updated_at = :now
            WHERE execution_id = CAST(:id AS uuid) AND state = {PENDING_SQL} RETURNING 1)
        SELECT count(*) FROM skipped"""), {"id": execution_id, "now": now})
    n = int(result.scalar_one())
    if n:
        await conn.execute(text("""
            UPDATE executions SET contacts_pending = contacts_pending - :n,
                contacts_skipped = contacts_skipped + :n WHERE id = CAST(:id AS uuid)"""),
            {"n": n, "id": execution_id})
    return n


async def lock_contacts(conn: AsyncConnection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], ContactRow]:
    """Contacts by (execution id, contact ref), locked for update."""
    if not keys:
        return {}
    result = await conn.execute(text("""
        SELECT c.id, c.execution_id, c.contact_ref, c.state, c.attempt, c.last_outcome FROM execution_contacts c
        JOIN unnest(CAST(:eids AS uuid[]), CAST(:refs AS text[])) AS k(eid, ref)
          ON c.execution_id = k.eid AND c.contact_ref = k.ref
        ORDER BY c.id FOR UPDATE OF c"""),
        {"eids": [k[0] for k in keys], "refs": [k[1] for k in keys]})
    contacts = [ContactRow(int(r[0]), str(r[1]), r[2], r[3], int(r[4]), r[5]) for r in result]
    return {(c.execution_id, c.contact_ref): c for c in contacts}


async def apply_contact_updates(conn: AsyncConnection, updates: Sequence[ContactUpdate], now: datetime) -> int:
    """Fenced: a row changes only while it is still as read (attempt, state, and for a contact no
    longer in progress its last outcome)."""
    if not updates:
        return 0
    result = await conn.execute(text(f"""
        UPDATE execution_contacts c SET state = u.state, attempt = u.attempt,
            next_attempt_at = COALESCE(u.next_at, c.next_attempt_at), lease_until = NULL,
            last_outcome = u.outcome, updated_at = :now
        FROM unnest(CAST(:ids AS bigint[]), CAST(:expected AS int[]), CAST(:from_states AS text[]),
                    CAST(:from_outcomes AS text[]), CAST(:states AS text[]),
                    CAST(:attempts AS int[]), CAST(:nexts AS timestamptz[]), CAST(:outcomes AS text[]))
             AS u(id, expected, from_state, from_outcome, state, attempt, next_at, outcome)
        WHERE c.id = u.id AND c.attempt = u.expected AND c.state = u.from_state
          AND (u.from_state = {IN_PROGRESS_SQL} OR c.last_outcome = u.from_outcome)"""),
        {"ids": [u.id for u in updates], "expected": [u.expected_attempt for u in updates],
         "from_states": [u.expected_state for u in updates],
         "from_outcomes": [u.expected_outcome for u in updates],
         "states": [u.state for u in updates], "attempts": [u.attempt for u in updates],
         "nexts": [iso(u.next_attempt_at) if u.next_attempt_at else None for u in updates],
         "outcomes": [u.outcome for u in updates], "now": now})
    return int(result.rowcount)
