"""What became of each attempt, in call_records: rejected, placing, finished, settled; the calls
lost with their dialer; the settlements still due; the call history.

Every change is fenced by the owner and by the states domain.attempts lets the record leave, so
a dialer that lost its attempt changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kernel.db import after_key
from kernel.paging import PageRequest
from services.dialer.adapters.batching import Coalescer
from services.dialer.adapters.call_records import (
    COLUMNS,
    DECLARE_LOST,
    amd_columns,
    literal,
    may_become,
    qualified,
    record,
    state_in,
)
from services.dialer.domain import attempts
from services.dialer.domain.attempts import CallRecord
from services.dialer.domain.call_stats import CallBucket
from services.dialer.domain.voicemail import AmdResult

_FINISHED = state_in([attempts.FINISHED])


class CallResults:
    """The hot-path writes (placing, finish, settled, reject) of the calls in flight are
    coalesced: each call awaits its own row's change, and those waiting together share one
    statement and one commit. Each row's change is the same fenced update as alone."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._placing = Coalescer(self._mark_placing_many)
        self._finishes = Coalescer(self._finish_many)
        self._settled = Coalescer(self._mark_settled_many)
        self._rejects = Coalescer(self._reject_many)

    async def reject(self, attempt_id: str, owner: str, reason: str, stream_seq: int,
                     now: datetime, outcome: str = attempts.REJECTED_OUTCOME) -> CallRecord | None:
        """No call for this request (outcome rejected or not_placed), before or right after the
        record was made placing (the last check before the carrier failed) — even if meanwhile
        another dialer declared the call unknown, for this owner knows it never reached the
        carrier. A later request of the same attempt id takes the record over. started_at is
        emptied: nothing was started."""
        return await self._rejects((attempt_id, owner, reason, stream_seq, now, outcome))

    async def _reject_many(self, items: list[tuple[Any, ...]]) -> list[CallRecord | None]:
        async with self.engine.begin() as conn:
            rows = (await conn.execute(text(f"""
                UPDATE call_records c SET state = {literal(attempts.REJECTED)}, outcome = r.outcome,
                    reason = r.reason, started_at = NULL, rejections = c.rejections + 1,
                    rejected_stream_seq = r.seq, ended_at = r.ended, did_id = NULL, did_number = NULL,
                    updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:reasons AS text[]),
                            CAST(:seqs AS bigint[]), CAST(:ended AS timestamptz[]), CAST(:outcomes AS text[]))
                     AS r(aid, own, reason, seq, ended, outcome)
                WHERE c.attempt_id = r.aid AND c.owner = r.own AND {may_become(attempts.REJECTED, "c")}
                RETURNING {qualified("c")}"""), {
                "aids": [i[0] for i in items], "owners": [i[1] for i in items], "reasons": [i[2] for i in items],
                "seqs": [i[3] for i in items], "ended": [i[4] for i in items],
                "outcomes": [i[5] for i in items]})).all()
        by_attempt = {r.attempt_id: r for r in map(record, rows)}
        return [by_attempt.get(i[0]) for i in items]

    async def mark_placing(self, attempt_id: str, owner: str, did_id: str, did_number: str,
                           reservation_id: str, started_at: datetime) -> bool:
        return await self._placing((attempt_id, owner, did_id, did_number, reservation_id, started_at))

    async def _mark_placing_many(self, items: list[tuple[Any, ...]]) -> list[bool]:
        async with self.engine.begin() as conn:
            done = set((await conn.execute(text(f"""
                UPDATE call_records c SET state = {literal(attempts.PLACING)}, did_id = p.did,
                    did_number = p.number, reservation_id = p.rid, settled = false, started_at = p.started,
                    ended_at = NULL, updated_at = now()
                FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:dids AS uuid[]),
                            CAST(:numbers AS text[]), CAST(:rids AS text[]), CAST(:started AS timestamptz[]))
                     AS p(aid, own, did, number, rid, started)
                WHERE c.attempt_id = p.aid AND c.owner = p.own AND {may_become(attempts.PLACING, "c")}
                RETURNING c.attempt_id"""), {
                "aids": [i[0] for i in items], "owners": [i[1] for i in items], "dids": [i[2] for i in items],
                "numbers": [i[3] for i in items], "rids": [i[4] for i in items],
                "started": [i[5] for i in items]})).scalars())
        return [i[0] in done for i in items]

    async def finish(self, attempt_id: str, owner: str, outcome: str, started_at: datetime,
                     answered_at: datetime | None, ended_at: datetime, talk_seconds: int,
                     node_ids: list[str], placing: CallRecord | None = None, sip_code: int | None = None,
                     q850_cause: int | None = None, amd: AmdResult | None = None) -> CallRecord | None:
        """Store the call's end (with what answering-machine detection decided, `amd`, when it
        ran); None when this dialer no longer owns the attempt.

        A call declared unknown while this dialer was stalled still gets its real result
        (reason late_result): the record then says what really happened.

        `placing` is the record as this owner made it placing: the owner is the only writer of
        the row until it finishes, so the finished record is that plus the call's end, without
        reading the row back."""
        return await self._finishes((attempt_id, owner, outcome, started_at, answered_at, ended_at, talk_seconds,
                                     json.dumps(node_ids), placing, sip_code, q850_cause, amd))

    async def _finish_many(self, items: list[tuple[Any, ...]]) -> list[CallRecord | None]:
        answers: dict[str, CallRecord] = {}
        async with self.engine.begin() as conn:
            for known in (True, False):
                group = [i for i in items if (i[8] is not None) == known]  # i[8]: placing
                if not group:
                    continue
                returning = "c.attempt_id, c.reason" if known else qualified("c")
                amds = [amd_columns(i[11]) for i in group]
                rows = (await conn.execute(text(f"""
                    UPDATE call_records c SET state = {literal(attempts.FINISHED)}, outcome = f.outcome,
                        started_at = f.started, answered_at = f.answered, ended_at = f.ended, talk_seconds = f.talk,
                        node_ids = CAST(f.nodes AS jsonb), sip_code = f.sip, q850_cause = f.q850,
                        amd_result = f.amd, amd_decision_ms = f.amd_ms, amd_features = CAST(f.amd_features AS jsonb),
                        updated_at = now(),
                        reason = CASE WHEN {state_in([attempts.FINISHED], "c")} THEN {literal(attempts.LATE_RESULT)} END
                    FROM unnest(CAST(:aids AS text[]), CAST(:owners AS text[]), CAST(:outcomes AS text[]),
                                CAST(:started AS timestamptz[]), CAST(:answered AS timestamptz[]),
                                CAST(:ended AS timestamptz[]), CAST(:talks AS int[]), CAST(:nodes AS text[]),
                                CAST(:sips AS int[]), CAST(:q850s AS int[]), CAST(:amds AS text[]),
                                CAST(:amd_ms AS int[]), CAST(:amd_features AS text[]))
                         AS f(aid, own, outcome, started, answered, ended, talk, nodes, sip, q850, amd, amd_ms,
                              amd_features)
                    WHERE c.attempt_id = f.aid AND c.owner = f.own AND {may_become(attempts.FINISHED, "c")}
                    RETURNING {returning}"""), {
                    "aids": [i[0] for i in group], "owners": [i[1] for i in group],
                    "outcomes": [i[2] for i in group], "started": [i[3] for i in group],
                    "answered": [i[4] for i in group], "ended": [i[5] for i in group],
                    "talks": [i[6] for i in group], "nodes": [i[7] for i in group],
                    "sips": [i[9] for i in group], "q850s": [i[10] for i in group],
                    "amds": [c[0] for c in amds], "amd_ms": [c[1] for c in amds],
                    "amd_features": [c[2] for c in amds]})).all()
                if known:
                    done = {r[0]: r[1] for r in rows}
                    for aid, _, outcome, started, answered, ended, talk, nodes, placing, sip, q850, amd in group:
                        if aid in done:
                            answers[aid] = replace(placing, state=attempts.FINISHED, outcome=outcome,
                                                   started_at=started, answered_at=answered, ended_at=ended,
                                                   talk_seconds=talk, node_ids=json.loads(nodes), reason=done[aid],
                                                   sip_code=sip, q850_cause=q850, amd=amd)
                else:
                    answers.update((r.attempt_id, r) for r in map(record, rows))
        return [answers.get(i[0]) for i in items]

    async def mark_settled(self, attempt_id: str) -> None:
        await self._settled(attempt_id)

    async def _mark_settled_many(self, attempt_ids: list[str]) -> list[None]:
        async with self.engine.begin() as conn:
            await conn.execute(text(f"""
                UPDATE call_records SET settled = true, updated_at = now()
                WHERE attempt_id = ANY(CAST(:aids AS text[])) AND {_FINISHED}"""), {"aids": attempt_ids})
        return [None] * len(attempt_ids)

    async def finish_abandoned(self, now: datetime, limit: int = 100, spare: str | None = None) -> list[CallRecord]:
        """Calls whose dialer vanished (or stalled) mid-call end as unknown (never placed a second
        time); the real result replaces it if that dialer comes back with one. The calls of owner
        `spare` (the dialer asking) are left alone: a dialer that runs holds its own calls, even
        when a stall let their leases lapse before its heartbeat could renew them."""
        async with self.engine.begin() as conn:
            rows = (await conn.execute(text(f"""
                UPDATE call_records SET {DECLARE_LOST}
                WHERE id IN (SELECT id FROM call_records
                             WHERE {state_in([attempts.PLACING])} AND lease_expires_at < now()
                               AND owner IS DISTINCT FROM :spare
                             ORDER BY lease_expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)
                RETURNING {COLUMNS}"""), {"now": now, "limit": limit, "spare": spare})).all()
        return [record(r) for r in rows]

    async def unsettled(self, older_than_seconds: float, unknown_older_than_seconds: float,
                        limit: int = 100) -> list[CallRecord]:
        """Finished calls not settled yet; those of unknown outcome only once their real result
        had time to come (a late answered call is still charged)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {COLUMNS} FROM call_records
                WHERE {_FINISHED} AND NOT settled AND reservation_id IS NOT NULL
                  AND updated_at < now() - make_interval(secs => CASE WHEN outcome = {literal(attempts.UNKNOWN)}
                                                                       THEN :unknown_age ELSE :age END)
                ORDER BY updated_at LIMIT :limit"""),
                {"age": older_than_seconds, "unknown_age": unknown_older_than_seconds, "limit": limit})).all()
        return [record(r) for r in rows]

    async def list_calls(self, organization_id: str, execution_id: str, wanted: PageRequest,
                         newest_first: bool = False) -> list[CallRecord]:
        """Finished calls of the execution in the order they were placed (or the reverse), after
        the page's key."""
        after, params = after_key(wanted, "created_at, id", ("timestamptz", "uuid"), descending=newest_first)
        params.update(org=organization_id, execution_id=execution_id, limit=wanted.fetch)
        order = "created_at DESC, id DESC" if newest_first else "created_at, id"
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT {COLUMNS} FROM call_records
                WHERE execution_id = :execution_id AND organization_id = :org AND {_FINISHED} AND {after}
                ORDER BY {order} LIMIT :limit"""), params)).all()
        return [record(r) for r in rows]

    async def call_stats(self, organization_id: str, execution_id: str, bucket_seconds: int) -> list[CallBucket]:
        """Finished calls of the execution per bucket of ended_at (epoch-aligned) and outcome,
        counted by the database: one row per (bucket, outcome) crosses the wire, never a call."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(text(f"""
                SELECT to_timestamp(floor(extract(epoch FROM ended_at) / :width) * :width) AS start,
                       coalesce(outcome, '') AS outcome, count(*) AS calls
                FROM call_records
                WHERE execution_id = :execution_id AND organization_id = :org AND {_FINISHED}
                  AND ended_at IS NOT NULL
                GROUP BY 1, 2 ORDER BY 1, 2"""),
                {"org": organization_id, "execution_id": execution_id, "width": bucket_seconds})).all()
        buckets: dict[datetime, dict[str, int]] = {}
        for start, outcome, calls in rows:
            buckets.setdefault(start, {})[outcome] = int(calls)
        return [CallBucket(start, outcomes) for start, outcomes in buckets.items()]
