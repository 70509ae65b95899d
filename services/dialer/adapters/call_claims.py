"""Claims of attempt ids in call_records: the row of an attempt id is made, or read under its lock
and changed as domain.attempts.decide_repeat says; leases are renewed, given back and ended.

The unique attempt id makes one record per attempt; the decision on an existing record is taken
under its row lock, so replicas asking at once get one answer each, never two calls.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.dialer.adapters.batching import Coalescer
from services.dialer.adapters.call_records import (
    COLUMNS,
    DECLARE_LOST,
    WIDTH,
    literal,
    may_become,
    record,
    state_in,
)
from services.dialer.domain import attempts
from services.dialer.domain.attempts import CallRecord, Claim, Held, NewAttempt, Verdict

_NEW = literal(attempts.NEW)


class CallClaims:
    """The claims of the calls in flight are coalesced: those waiting together share one
    statement and one commit; each row's change is the same fenced statement as alone."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._inserts = Coalescer(self._insert_claims)
        self._releases = Coalescer(self._release_claims)

    async def claim(self, attempt: NewAttempt, owner: str, lease_seconds: float, stream_seq: int,
                    now: datetime) -> Claim:
        # Nearly every request is a new attempt id: insert it with the others waiting; only an
        # attempt id that already has a record takes the locking path below.
        new = await self._inserts((attempt, owner, lease_seconds))
        if new is not None:
            return Claim(Verdict.PLACE, new)
        return await self._claim_existing(attempt, owner, lease_seconds, stream_seq, now)

    async def _insert_claims(self, items: list[tuple[NewAttempt, str, float]]) -> list[CallRecord | None]:
        """New records for the attempt ids that have none; None for the others (and for repeats)."""
        first: dict[tuple[str, float], dict[str, int]] = {}
        for i, (attempt, owner, lease) in enumerate(items):
            first.setdefault((owner, lease), {}).setdefault(attempt.attempt_id, i)
        answers: list[CallRecord | None] = [None] * len(items)
        async with self.engine.begin() as conn:
            for (owner, lease), by_attempt in first.items():
                group = [items[i][0] for i in by_attempt.values()]
                ids = [str(uuid.uuid4()) for _ in group]
                rows = (await conn.execute(text(f"""
                    INSERT INTO call_records (id, attempt_id, execution_id, organization_id, contact_id, phone,
                                              attempt, state, owner, lease_expires_at)
                    SELECT n.id, n.aid, n.eid, n.org, n.cid, n.phone, n.attempt, {_NEW}, :owner,
                           now() + make_interval(secs => :lease)
                    FROM unnest(CAST(:ids AS uuid[]), CAST(:aids AS text[]), CAST(:eids AS text[]),
                                CAST(:orgs AS uuid[]), CAST(:cids AS text[]), CAST(:phones AS text[]),
                                CAST(:attempts AS int[])) AS n(id, aid, eid, org, cid, phone, attempt)
                    ON CONFLICT (attempt_id) DO NOTHING
                    RETURNING attempt_id, created_at"""), {
                    "owner": owner, "lease": lease, "ids": ids,
                    "aids": [a.attempt_id for a in group], "eids": [a.execution_id for a in group],
                    "orgs": [a.organization_id for a in group], "cids": [a.contact_id for a in group],
                    "phones": [a.phone for a in group], "attempts": [a.attempt for a in group]})).all()
                # The new row is exactly what was sent plus the column defaults.
                created = {r[0]: r[1] for r in rows}
                for record_id, attempt in zip(ids, group, strict=True):
                    if attempt.attempt_id in created:
                        answers[by_attempt[attempt.attempt_id]] = CallRecord(
                            record_id, attempt.attempt_id, attempt.execution_id, attempt.organization_id,
                            attempt.contact_id, attempt.phone, attempt.attempt, attempts.NEW, owner,
                            created_at=created[attempt.attempt_id])
        return answers

    async def _claim_existing(self, attempt: NewAttempt, owner: str, lease_seconds: float, stream_seq: int,
                              now: datetime) -> Claim:
        params = {"owner": owner, "lease": lease_seconds, "attempt_id": attempt.attempt_id}
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                INSERT INTO call_records (id, attempt_id, execution_id, organization_id, contact_id, phone,
                                          attempt, state, owner, lease_expires_at)
                VALUES (:id, :attempt_id, :execution_id, :org, :contact_id, :phone, :attempt, {_NEW},
                        :owner, now() + make_interval(secs => :lease))
                ON CONFLICT (attempt_id) DO NOTHING
                RETURNING {COLUMNS}"""), {
                **params, "id": str(uuid.uuid4()), "execution_id": attempt.execution_id,
                "org": attempt.organization_id, "contact_id": attempt.contact_id, "phone": attempt.phone,
                "attempt": attempt.attempt})).first()
            if row is not None:
                return Claim(Verdict.PLACE, record(row))
            row = (await conn.execute(text(f"""
                SELECT {COLUMNS}, lease_expires_at < now() FROM call_records
                WHERE attempt_id = :attempt_id FOR UPDATE"""), params)).one()
            held = record(row[:WIDTH])
            decision = attempts.decide_repeat(Held(held.state, bool(row[WIDTH]), held.rejected_stream_seq),
                                              stream_seq)
            if decision.becomes == attempts.CLAIMED:
                held = await self._take_over(conn, params)
            elif decision.becomes == attempts.FINISHED:
                held = await self._declare_lost(conn, params, now)
            return Claim(decision.verdict, held)

    async def _take_over(self, conn: AsyncConnection, params: dict[str, Any]) -> CallRecord:
        row = (await conn.execute(text(f"""
            UPDATE call_records SET state = {_NEW}, owner = :owner, outcome = NULL, reason = NULL,
                lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
            WHERE attempt_id = :attempt_id AND {may_become(attempts.CLAIMED)}
            RETURNING {COLUMNS}"""), params)).one()
        return record(row)

    async def _declare_lost(self, conn: AsyncConnection, params: dict[str, Any], now: datetime) -> CallRecord:
        row = (await conn.execute(text(f"""
            UPDATE call_records SET {DECLARE_LOST}
            WHERE attempt_id = :attempt_id AND {state_in([attempts.PLACING])}
            RETURNING {COLUMNS}"""), {**params, "now": now})).one()
        return record(row)

    async def release_claim(self, attempt_id: str, owner: str) -> None:
        """Give the attempt back untouched (no call started): the next delivery takes it."""
        await self._releases((attempt_id, owner))

    async def _release_claims(self, items: list[tuple[str, str]]) -> list[None]:
        async with self.engine.begin() as conn:
            await conn.execute(text(f"""
                UPDATE call_records c SET lease_expires_at = now() - interval '1 second', updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[])) AS r(aid, own)
                WHERE c.attempt_id = r.aid AND c.owner = r.own AND {state_in([attempts.CLAIMED], "c")}"""),
                {"aids": [i[0] for i in items], "owners": [i[1] for i in items]})
        return [None] * len(items)

    async def renew(self, attempt_ids: list[str], owner: str, lease_seconds: float) -> None:
        if not attempt_ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(text(f"""
                UPDATE call_records SET lease_expires_at = now() + make_interval(secs => :lease)
                WHERE attempt_id = ANY(:ids) AND owner = :owner AND {state_in(attempts.LEASED)}"""),
                {"ids": attempt_ids, "owner": owner, "lease": lease_seconds})

    async def expire_lease(self, attempt_id: str, owner: str) -> None:
        """This dialer stops working on the attempt now (shutdown): the lease ends at once."""
        async with self.engine.begin() as conn:
            await conn.execute(text(f"""
                UPDATE call_records SET lease_expires_at = now() - interval '1 second'
                WHERE attempt_id = :attempt_id AND owner = :owner AND {state_in(attempts.LEASED)}"""),
                {"attempt_id": attempt_id, "owner": owner})
