"""Call records in PostgreSQL: the record of an attempt id decides whether a call happened.

Leases are in database time (now()), so every replica agrees on them; call times are
virtual (the shared clock) and passed in.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.dialer.adapters.batching import Coalescer


@dataclass
class CallRecord:
    id: str
    attempt_id: str
    execution_id: str
    organization_id: str
    contact_id: str
    phone: str
    attempt: int
    state: str
    owner: str
    did_id: str | None = None
    did_number: str | None = None
    reservation_id: str | None = None
    settled: bool = False
    outcome: str | None = None
    reason: str | None = None
    rejections: int = 0
    rejected_stream_seq: int | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    talk_seconds: int = 0
    node_ids: list[str] = field(default_factory=list)
    created_at: datetime | None = None


_COLUMNS = """id::text, attempt_id, execution_id::text, organization_id::text, contact_id, phone, attempt,
    state, owner, did_id::text, did_number, reservation_id, settled, outcome, reason, rejections,
    rejected_stream_seq, started_at, answered_at, ended_at, talk_seconds, node_ids, created_at"""


def _qualified(alias: str) -> str:
    """_COLUMNS with every column prefixed by a table alias (for UPDATE … FROM)."""
    return ", ".join(f"{alias}.{c.strip()}" for c in _COLUMNS.split(","))


def _record(r) -> CallRecord:
    node_ids = r[21] if isinstance(r[21], list) else json.loads(r[21] or "[]")
    return CallRecord(*r[:21], node_ids=node_ids, created_at=r[22])


@dataclass(frozen=True)
class NewAttempt:
    attempt_id: str
    execution_id: str
    organization_id: str
    contact_id: str
    phone: str
    attempt: int


@dataclass(frozen=True)
class Claim:
    """What the dialer should do with a dial request, decided under the row lock.

    place: this dialer owns the attempt and may place its call.
    finished: a call already ended; re-publish its result.
    rejected: this very message was rejected before; re-publish the rejection.
    busy: another dialer is working on the attempt right now; try again later.
    abandoned: a call was being placed by a dialer that is gone (or stalled); the record was
        just finished with outcome unknown; publish that.
    """

    kind: str
    record: CallRecord


class CallRepository:
    """The hot-path writes (claim, placing, finish, settled, release) of the calls in flight are
    coalesced: each call awaits its own row's change, and those waiting together share one
    statement and one commit. Each row's change is the same fenced update as alone."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._inserts = Coalescer(self._insert_claims)
        self._placing = Coalescer(self._mark_placing_many)
        self._finishes = Coalescer(self._finish_many)
        self._settled = Coalescer(self._mark_settled_many)
        self._releases = Coalescer(self._release_claims)
        self._rejects = Coalescer(self._reject_many)

    async def claim(self, attempt: NewAttempt, owner: str, lease_seconds: float, stream_seq: int,
                    now: datetime) -> Claim:
        # Nearly every request is a new attempt id: insert it with the others waiting; only an
        # attempt id that already has a record takes the locking path below.
        record = await self._inserts((attempt, owner, lease_seconds))
        if record is not None:
            return Claim("place", record)
        return await self._claim_existing(attempt, owner, lease_seconds, stream_seq, now)

    async def _insert_claims(self, items: list[tuple[NewAttempt, str, float]]) -> list[CallRecord | None]:
        """New records for the attempt ids that have none; None for the others (and for repeats)."""
        first: dict[tuple[str, str, float], dict[str, int]] = {}
        for i, (attempt, owner, lease) in enumerate(items):
            first.setdefault((owner, lease), {}).setdefault(attempt.attempt_id, i)
        answers: list[CallRecord | None] = [None] * len(items)
        async with self.engine.begin() as conn:
            for (owner, lease), by_attempt in first.items():
                group = [items[i][0] for i in by_attempt.values()]
                ids = [str(uuid.uuid4()) for _ in group]
                rows = (await conn.execute(text("""
                    INSERT INTO call_records (id, attempt_id, execution_id, organization_id, contact_id, phone,
                                              attempt, state, owner, lease_expires_at)
                    SELECT n.id, n.aid, n.eid, n.org, n.cid, n.phone, n.attempt, 'claimed', :owner,
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
                created = dict(rows)
                for record_id, attempt in zip(ids, group, strict=True):
                    if attempt.attempt_id in created:
                        answers[by_attempt[attempt.attempt_id]] = CallRecord(
                            record_id, attempt.attempt_id, attempt.execution_id, attempt.organization_id,
                            attempt.contact_id, attempt.phone, attempt.attempt, "claimed", owner,
                            created_at=created[attempt.attempt_id])
        return answers

    async def _claim_existing(self, attempt: NewAttempt, owner: str, lease_seconds: float, stream_seq: int,
                              now: datetime) -> Claim:
        params = {"owner": owner, "lease": lease_seconds, "attempt_id": attempt.attempt_id}
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(f"""
                INSERT INTO call_records (id, attempt_id, execution_id, organization_id, contact_id, phone,
                                          attempt, state, owner, lease_expires_at)
                VALUES (:id, :attempt_id, :execution_id, :org, :contact_id, :phone, :attempt, 'claimed',
                        :owner, now() + make_interval(secs => :lease))
                ON CONFLICT (attempt_id) DO NOTHING
                RETURNING {_COLUMNS}"""), {
                **params, "id": str(uuid.uuid4()), "execution_id": attempt.execution_id,
                "org": attempt.organization_id, "contact_id": attempt.contact_id, "phone": attempt.phone,
                "attempt": attempt.attempt})).first()
            if row is not None:
                return Claim("place", _record(row))
            row = (await conn.execute(text(f"""
                SELECT {_COLUMNS}, lease_expires_at < now() FROM call_records
                WHERE attempt_id = :attempt_id FOR UPDATE"""), params)).one()
            record, expired = _record(row[:23]), bool(row[23])
            if record.state == "finished":
                return Claim("finished", record)
            if record.state == "rejected":
                if record.rejected_stream_seq == stream_seq:
                    return Claim("rejected", record)
                return Claim("place", await self._take_over(conn, params))
            if not expired:
                return Claim("busy", record)
            if record.state == "claimed":
                # The previous owner died before any call could start: take the attempt over.
                return Claim("place", await self._take_over(conn, params))
            row = (await conn.execute(text(f"""
                UPDATE call_records SET state = 'finished', outcome = 'unknown', reason = 'dialer_lost',
                    ended_at = :now, talk_seconds = 0, node_ids = '[]'::jsonb, updated_at = now()
                WHERE attempt_id = :attempt_id RETURNING {_COLUMNS}"""), {**params, "now": now})).one()
            return Claim("abandoned", _record(row))

    async def _take_over(self, conn: AsyncConnection, params: dict) -> CallRecord:
        row = (await conn.execute(text(f"""
            UPDATE call_records SET state = 'claimed', owner = :owner, outcome = NULL, reason = NULL,
                lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
            WHERE attempt_id = :attempt_id RETURNING {_COLUMNS}"""), params)).one()
        return _record(row)

    async def release_claim(self, attempt_id: str, owner: str) -> None:
        """Give the attempt back untouched (no call started): the next delivery takes it."""
        await self._releases((attempt_id, owner))

    async def _release_claims(self, items: list[tuple[str, str]]) -> list[None]:
        async with self.engine.begin() as conn:
            await conn.execute(text("""
                UPDATE call_records c SET lease_expires_at = now() - interval '1 second', updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[])) AS r(aid, own)
                WHERE c.attempt_id = r.aid AND c.owner = r.own AND c.state = 'claimed'"""),
                {"aids": [i[0] for i in items], "owners": [i[1] for i in items]})
        return [None] * len(items)

    async def reject(self, attempt_id: str, owner: str, reason: str, stream_seq: int,
                     now: datetime, outcome: str = "rejected") -> CallRecord | None:
        """No call for this request (outcome rejected or not_placed), before or right after the
        record was made placing (the last check before the carrier failed) — even if meanwhile
        another dialer declared the call unknown, for this owner knows it never reached the
        carrier. A later request of the same attempt id takes the record over. started_at is
        emptied: nothing was started."""
        return await self._rejects((attempt_id, owner, reason, stream_seq, now, outcome))

    async def _reject_many(self, items: list[tuple]) -> list[CallRecord | None]:
        async with self.engine.begin() as conn:
            rows = (await conn.execute(text(f"""
                UPDATE call_records c SET state = 'rejected', outcome = r.outcome, reason = r.reason,
                    started_at = NULL, rejections = c.rejections + 1, rejected_stream_seq = r.seq,
                    ended_at = r.ended, did_id = NULL, did_number = NULL, updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:reasons AS text[]),
                            CAST(:seqs AS bigint[]), CAST(:ended AS timestamptz[]), CAST(:outcomes AS text[]))
                     AS r(aid, own, reason, seq, ended, outcome)
                WHERE c.attempt_id = r.aid AND c.owner = r.own
                  AND (c.state IN ('claimed', 'placing') OR (c.state = 'finished' AND c.outcome = 'unknown'))
                RETURNING {_qualified("c")}"""), {
                "aids": [i[0] for i in items], "owners": [i[1] for i in items], "reasons": [i[2] for i in items],
                "seqs": [i[3] for i in items], "ended": [i[4] for i in items],
                "outcomes": [i[5] for i in items]})).all()
        by_attempt = {r.attempt_id: r for r in map(_record, rows)}
        return [by_attempt.get(i[0]) for i in items]

    async def mark_placing(self, attempt_id: str, owner: str, did_id: str, did_number: str,
                           reservation_id: str, started_at: datetime) -> bool:
        return await self._placing((attempt_id, owner, did_id, did_number, reservation_id, started_at))

    async def _mark_placing_many(self, items: list[tuple]) -> list[bool]:
        async with self.engine.begin() as conn:
            done = set((await conn.execute(text("""
                UPDATE call_records c SET state = 'placing', did_id = p.did, did_number = p.number,
                    reservation_id = p.rid, settled = false, started_at = p.started, ended_at = NULL,
                    updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:dids AS uuid[]),
                            CAST(:numbers AS text[]), CAST(:rids AS text[]), CAST(:started AS timestamptz[]))
                     AS p(aid, own, did, number, rid, started)
                WHERE c.attempt_id = p.aid AND c.owner = p.own AND c.state = 'claimed'
                RETURNING c.attempt_id"""), {
                "aids": [i[0] for i in items], "owners": [i[1] for i in items], "dids": [i[2] for i in items],
                "numbers": [i[3] for i in items], "rids": [i[4] for i in items],
                "started": [i[5] for i in items]})).scalars())
        return [i[0] in done for i in items]

    async def finish(self, attempt_id: str, owner: str, outcome: str, started_at: datetime,
                     answered_at: datetime | None, ended_at: datetime, talk_seconds: int,
                     node_ids: list[str], placing: CallRecord | None = None) -> CallRecord | None:
        """Store the call's end; None when this dialer no longer owns the attempt.

        A call declared unknown while this dialer was stalled still gets its real result
        (reason late_result): the record then says what really happened.

        `placing` is the record as this owner made it placing: the owner is the only writer of
        the row until it finishes, so the finished record is that plus the call's end, without
        reading the row back."""
        return await self._finishes((attempt_id, owner, outcome, started_at, answered_at, ended_at, talk_seconds,
                                     json.dumps(node_ids), placing))

    async def _finish_many(self, items: list[tuple]) -> list[CallRecord | None]:
        answers: dict[str, CallRecord] = {}
        async with self.engine.begin() as conn:
            for known in (True, False):
                group = [i for i in items if (i[8] is not None) == known]
                if not group:
                    continue
                returning = "c.attempt_id, c.reason" if known else _qualified("c")
                rows = (await conn.execute(text(f"""
                    UPDATE call_records c SET state = 'finished', outcome = f.outcome, started_at = f.started,
                        answered_at = f.answered, ended_at = f.ended, talk_seconds = f.talk,
                        node_ids = CAST(f.nodes AS jsonb), updated_at = now(),
                        reason = CASE WHEN c.state = 'finished' THEN 'late_result' END
                    FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:outcomes AS text[]),
                                CAST(:started AS timestamptz[]), CAST(:answered AS timestamptz[]),
                                CAST(:ended AS timestamptz[]), CAST(:talks AS int[]), CAST(:nodes AS text[]))
                         AS f(aid, own, outcome, started, answered, ended, talk, nodes)
                    WHERE c.attempt_id = f.aid AND c.owner = f.own
                      AND (c.state = 'placing' OR (c.state = 'finished' AND c.outcome = 'unknown'))
                    RETURNING {returning}"""), {
                    "aids": [i[0] for i in group], "owners": [i[1] for i in group],
                    "outcomes": [i[2] for i in group], "started": [i[3] for i in group],
                    "answered": [i[4] for i in group], "ended": [i[5] for i in group],
                    "talks": [i[6] for i in group], "nodes": [i[7] for i in group]})).all()
                if known:
                    done = dict(rows)
                    for aid, _, outcome, started, answered, ended, talk, nodes, placing in group:
                        if aid in done:
                            answers[aid] = replace(placing, state="finished", outcome=outcome, started_at=started,
                                                   answered_at=answered, ended_at=ended, talk_seconds=talk,
                                                   node_ids=json.loads(nodes), reason=done[aid])
                else:
                    answers.update((r.attempt_id, r) for r in map(_record, rows))
        return [answers.get(i[0]) for i in items]

    async def mark_settled(self, attempt_id: str) -> None:
        await self._settled(attempt_id)

    async def _mark_settled_many(self, attempt_ids: list[str]) -> list[None]:
        async with self.engine.begin() as conn:
            await conn.execute(text("""
                UPDATE call_records SET settled = true, updated_at = now()
                WHERE attempt_id = ANY(CAST(:aids AS text[])) AND state = 'finished'"""), {"aids": attempt_ids})
        return [None] * len(attempt_ids)

    async def renew(self, attempt_ids: list[str], owner: str, lease_seconds: float) -> None:
        if not attempt_ids:
            return
        async with self.engine.begin() as conn:
            await conn.execute(text("""
                UPDATE call_records SET lease_expires_at = now() + make_interval(secs => :lease)
                WHERE attempt_id = ANY(:ids) AND owner = :owner AND state IN ('claimed', 'placing')"""),
                {"ids": attempt_ids, "owner": owner, "lease": lease_seconds})

    async def expire_lease(self, attempt_id: str, owner: str) -> None:
        """This dialer stops working on the attempt now (shutdown): the lease ends at once."""
        async with self.engine.begin() as conn:
            await conn.execute(text("""
                UPDATE call_records SET lease_expires_at = now() - interval '1 second'
                WHERE attempt_id = :attempt_id AND owner = :owner AND state IN ('claimed', 'placing')"""),
                {"attempt_id": attempt_id, "owner": owner})

    async def finish_abandoned(self, now: datetime, limit: int = 100) -> list[CallRecord]:
        """Calls whose dialer vanished (or stalled) mid-call end as unknown (never placed a second
        time); the real result replaces it if that dialer comes back with one."""
        async with self.engine.begin() as conn:
            rows = (await conn.execute(text(f"""
                UPDATE call_records SET state = 'finished', outcome = 'unknown', reason = 'dialer_lost',
                    ended_at = :now, talk_seconds = 0, node_ids = '[]'::jsonb, updated_at = now()
                WHERE id IN (SELECT id FROM call_records
                             WHERE state = 'placing' AND lease_expires_at < now()
                             ORDER BY lease_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)
                RETURNING {_COLUMNS}"""), {"now": now, "limit": limit})).all()
        return [_record(r) for r in rows]

    async def unsettled(self, older_than_seconds: float, unknown_older_than_seconds: float,
                        limit: int = 100) -> list[CallRecord]:
        """Finished calls not settled yet; those of unknown outcome only once their real result
        had time to come (a late answered call is still charged)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM call_records
                WHERE state = 'finished' AND NOT settled AND reservation_id IS NOT NULL
                  AND updated_at < now() - make_interval(secs => CASE WHEN outcome = 'unknown'
                                                                       THEN :unknown_age ELSE :age END)
                ORDER BY updated_at LIMIT :limit"""),
                {"age": older_than_seconds, "unknown_age": unknown_older_than_seconds, "limit": limit})).all()
        return [_record(r) for r in rows]

    async def get(self, attempt_id: str) -> CallRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(text(f"SELECT {_COLUMNS} FROM call_records WHERE attempt_id = :a"),
                                      {"a": attempt_id})).first()
        return _record(row) if row else None

    async def list_calls(self, organization_id: str, execution_id: str, limit: int,
                         after: tuple[datetime, str] | None) -> list[CallRecord]:
        params = {"org": organization_id, "execution_id": execution_id, "limit": limit}
        keyset = ""
        if after:
            keyset = "AND (created_at, id) > (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid))"
            params.update(after_at=after[0], after_id=after[1])
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {_COLUMNS} FROM call_records
                WHERE execution_id = :execution_id AND organization_id = :org AND state = 'finished' {keyset}
                ORDER BY created_at, id LIMIT :limit"""), params)).all()
        return [_record(r) for r in rows]
