"""Events and deliveries: idempotent fan-out, the workers' claim with a lease, attempt results.

A delivery is claimed by moving its next_attempt_at to the end of a lease (FOR UPDATE SKIP
LOCKED: replicas never take the same row at once); the result of the attempt applies only while
that lease is still the row's (a failure) or while the row is pending (a success, which is true
whoever made it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from kernel.db import after_key
from kernel.paging import PageRequest
from services.webhooks.domain.events import Event, envelope
from services.webhooks.domain.model import DELIVERED, FAILED, PENDING, Claimed, Delivery, Outcome

_COLUMNS = """id::text AS id, endpoint_id::text AS endpoint_id, event_id::text AS event_id, type, status,
    attempts, response_code, last_error, next_attempt_at, created_at, delivered_at"""


def _delivery(row: Any) -> Delivery:
    return Delivery(id=row.id, endpoint_id=row.endpoint_id, event_id=row.event_id, type=row.type, status=row.status,
                    attempts=row.attempts, response_code=row.response_code, last_error=row.last_error,
                    next_attempt_at=row.next_attempt_at, created_at=row.created_at, delivered_at=row.delivered_at)


async def fan_out(conn: AsyncConnection, fanned: Sequence[tuple[Event, Sequence[str]]], now: datetime) -> int:
    """Store each event once and a pending delivery per endpoint id listed with it; what exists
    already is left alone. Answers how many deliveries were new."""
    events = [e for e, endpoint_ids in fanned if endpoint_ids]
    if not events:
        return 0
    await conn.execute(text("""
        INSERT INTO events (id, organization_id, type, created_at, body)
        SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:orgs AS text[]), CAST(:types AS text[]),
                             CAST(:created AS timestamptz[]), CAST(:bodies AS bytea[]))
        ON CONFLICT (id) DO NOTHING"""),
        {"ids": [e.id for e in events], "orgs": [e.organization_id for e in events],
         "types": [e.type for e in events], "created": [e.created_at for e in events],
         "bodies": [envelope(e) for e in events]})
    pairs = [(event, endpoint_id) for event, endpoint_ids in fanned for endpoint_id in endpoint_ids]
    result = await conn.execute(text("""
        INSERT INTO deliveries (id, endpoint_id, event_id, type, next_attempt_at, created_at)
        SELECT d.id, d.endpoint_id, d.event_id, d.type, :now, :now
        FROM unnest(CAST(:ids AS uuid[]), CAST(:endpoints AS uuid[]), CAST(:events AS uuid[]),
                    CAST(:types AS text[])) AS d(id, endpoint_id, event_id, type)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING"""),
        {"ids": [str(uuid.uuid4()) for _ in pairs], "endpoints": [endpoint_id for _, endpoint_id in pairs],
         "events": [event.id for event, _ in pairs], "types": [event.type for event, _ in pairs], "now": now})
    return int(result.rowcount or 0)


async def claim(conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int, per_endpoint: int,
                busy: Mapping[str, int]) -> list[Claimed]:
    """Take up to `limit` due deliveries of enabled endpoints, at most `per_endpoint` minus
    `busy[endpoint]` (attempts this replica has under way) per endpoint, soonest due first."""
    busy_ids = list(busy)
    rows = await conn.execute(text("""
        WITH candidates AS (
            SELECT d.id, d.endpoint_id, d.next_attempt_at FROM deliveries d
            WHERE d.status = 'pending' AND d.next_attempt_at <= :now
            ORDER BY d.next_attempt_at LIMIT :scan
            FOR UPDATE SKIP LOCKED
        ), ranked AS (
            SELECT c.id, row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_at) AS rank,
                   COALESCE(b.n, 0) AS busy
            FROM candidates c
            JOIN endpoints e ON e.id = c.endpoint_id AND e.enabled
            LEFT JOIN unnest(CAST(:busy_ids AS uuid[]), CAST(:busy_counts AS int[])) AS b(endpoint_id, n)
                   ON b.endpoint_id = c.endpoint_id
        ), chosen AS (
            SELECT id FROM ranked WHERE rank + busy <= :per_endpoint LIMIT :limit
        )
        UPDATE deliveries d SET next_attempt_at = :lease
        FROM chosen, endpoints e, events ev
        WHERE d.id = chosen.id AND e.id = d.endpoint_id AND ev.id = d.event_id
        RETURNING d.id::text AS id, d.endpoint_id::text AS endpoint_id, e.url, e.secret,
                  d.event_id::text AS event_id, ev.body, d.attempts, d.created_at"""),
        {"now": now, "lease": lease_until, "scan": limit * 4, "limit": limit, "per_endpoint": per_endpoint,
         "busy_ids": busy_ids, "busy_counts": [busy[k] for k in busy_ids]})
    return [Claimed(id=r.id, endpoint_id=r.endpoint_id, url=r.url, secret=r.secret, event_id=r.event_id,
                    body=bytes(r.body), attempts=r.attempts, created_at=r.created_at, lease=lease_until)
            for r in rows]


async def record_success(conn: AsyncConnection, claimed: Claimed, outcome: Outcome, now: datetime) -> None:
    await conn.execute(text("""
        UPDATE deliveries SET status = :delivered, attempts = attempts + 1, response_code = :code,
               last_error = '', next_attempt_at = NULL, delivered_at = :now
        WHERE id = CAST(:id AS uuid) AND status = :pending"""),
        {"id": claimed.id, "code": outcome.response_code, "now": now, "delivered": DELIVERED, "pending": PENDING})


async def record_failure(conn: AsyncConnection, claimed: Claimed, outcome: Outcome,
                         next_attempt_at: datetime | None) -> None:
    """A failed attempt: due again at `next_attempt_at`, or failed for good when None."""
    await conn.execute(text("""
        UPDATE deliveries SET attempts = attempts + 1, response_code = :code, last_error = :error,
               status = CASE WHEN CAST(:next AS timestamptz) IS NULL THEN :failed ELSE status END,
               next_attempt_at = :next
        WHERE id = CAST(:id AS uuid) AND status = :pending AND next_attempt_at = :lease"""),
        {"id": claimed.id, "code": outcome.response_code, "error": outcome.error[:1000], "next": next_attempt_at,
         "lease": claimed.lease, "failed": FAILED, "pending": PENDING})


async def list_page(conn: AsyncConnection, endpoint_id: str, status: str, wanted: PageRequest) -> list[Delivery]:
    """An endpoint's deliveries, newest first, optionally of one status."""
    after, params = after_key(wanted, "created_at, id", ("timestamptz", "uuid"), descending=True)
    status_clause = "AND status = :status" if status else ""
    rows = await conn.execute(text(f"""
        SELECT {_COLUMNS} FROM deliveries
        WHERE endpoint_id = CAST(:endpoint AS uuid) {status_clause} AND {after}
        ORDER BY created_at DESC, id DESC LIMIT :limit"""),
        {"endpoint": endpoint_id, "status": status, "limit": wanted.fetch, **params})
    return [_delivery(r) for r in rows]


async def forget_finished(conn: AsyncConnection, before: datetime, limit: int) -> int:
    """Delete up to `limit` delivered or failed deliveries created before `before`, oldest first
    (rows another replica is deleting are skipped), then their events that no delivery refers to
    any more. Answers how many deliveries went."""
    gone = (await conn.execute(text("""
        DELETE FROM deliveries WHERE id IN (
            SELECT id FROM deliveries WHERE status <> :pending AND created_at < :before
            ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED)
        RETURNING event_id"""), {"pending": PENDING, "before": before, "limit": limit})).scalars().all()
    if gone:
        # A second statement: it sees the deliveries the first one deleted as gone.
        await conn.execute(text("""
            DELETE FROM events e WHERE e.id = ANY(CAST(:ids AS uuid[]))
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)"""), {"ids": list(set(gone))})
    return len(gone)
