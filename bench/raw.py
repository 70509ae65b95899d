"""Raw limits of the servers a benchmark runs on, measured in the same run.

Each figure is what PostgreSQL or JetStream does with no Outbound code in the way; the
benchmark reports Outbound's figure as a fraction of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from kernel import jetstream
from kernel.db import libpq_url


def _rows(n: int):
    execution = uuid.uuid4()
    for i in range(n):
        yield (str(execution), str(uuid.uuid4()), f"+2126{i:08d}", "MA")


def copy_rate(database_url: str, rows: int) -> dict:
    """COPY `rows` rows shaped like a per-contact row (ids, phone, country) into a fresh table."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE UNLOGGED TABLE bench_copy (execution_id uuid, contact_id uuid, phone text, "
                     "country text, state text DEFAULT 'pending', attempt int DEFAULT 0, "
                     "next_attempt_at timestamptz DEFAULT now())")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY bench_copy (execution_id, contact_id, phone, country) FROM STDIN") as copy:
            for row in _rows(rows):
                copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds}


def _trigger_rows(n: int):
    execution, program, org = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    base = datetime.now(UTC)
    for i in range(n):
        value = base + timedelta(minutes=i)
        yield (execution, program, org, str(uuid.uuid4()), f"Contact {i}", f"+2126{i:08d}", "MA", value,
               value - timedelta(days=1), base)


def copy_trigger_rate(database_url: str, rows: int) -> dict:
    """COPY `rows` rows shaped like a live trigger (ids, name, phone, country, value, triggerAt)."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_triggers")
        conn.execute("CREATE UNLOGGED TABLE bench_copy_triggers (execution_id uuid, program_id uuid, "
                     "organization_id uuid, contact_id uuid, contact_name text, contact_phone text, "
                     "contact_country text, attribute_value timestamptz, trigger_at timestamptz, "
                     "status text DEFAULT 'pending', created_at timestamptz)")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
                "COPY bench_copy_triggers (execution_id, program_id, organization_id, contact_id, contact_name, "
                "contact_phone, contact_country, attribute_value, trigger_at, created_at) FROM STDIN") as copy:
            for row in _trigger_rows(rows):
                copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy_triggers")
    return {"rows": rows, "seconds": seconds, "rows_per_second": rows / seconds}


def claim_rate(database_url: str, rows: int, batch: int = 500) -> dict:
    """Batch claims with FOR UPDATE SKIP LOCKED, one commit per batch, until nothing is left."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_claim")
        conn.execute("CREATE TABLE bench_claim (id bigserial PRIMARY KEY, execution_id uuid, contact_id uuid, "
                     "phone text, country text, state text NOT NULL DEFAULT 'pending', attempt int DEFAULT 0, "
                     "next_attempt_at timestamptz NOT NULL DEFAULT now(), lease_until timestamptz)")
        conn.execute("CREATE INDEX ON bench_claim (execution_id, next_attempt_at) WHERE state = 'pending'")
        with conn.cursor() as cur, cur.copy("COPY bench_claim (execution_id, contact_id, phone, country) FROM STDIN") as copy:
            for row in _rows(rows):
                copy.write_row(row)
        conn.execute("ANALYZE bench_claim")
        claimed = 0
        started = time.perf_counter()
        while True:
            with conn.transaction():
                got = conn.execute(
                    "UPDATE bench_claim SET state = 'in_progress', attempt = attempt + 1, "
                    "lease_until = now() + interval '2 minutes' WHERE id IN (SELECT id FROM bench_claim "
                    "WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY next_attempt_at "
                    "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id, contact_id, phone, attempt", (batch,)).fetchall()
            if not got:
                break
            claimed += len(got)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_claim")
    return {"rows": claimed, "batch": batch, "seconds": seconds, "rows_per_second": claimed / seconds}


async def _jetstream_rate(nats_url: str, messages: int, payload_bytes: int) -> dict:
    nc = await jetstream.connect(nats_url, "bench-raw")
    js = nc.jetstream()
    stream = "BENCHRAW"
    try:
        await js.delete_stream(stream)
    except Exception:
        pass
    await jetstream.ensure_streams(js, {stream: ["benchraw.>"]})
    payload = b"x" * payload_bytes
    started = time.perf_counter()
    await jetstream.publish_many(js, (("benchraw.dial", payload, f"m{i}") for i in range(messages)))
    publish_seconds = time.perf_counter() - started

    psub = await js.pull_subscribe("benchraw.dial", durable="bench", stream=stream)
    received = 0
    started = time.perf_counter()
    while received < messages:
        batch = await psub.fetch(batch=min(500, messages - received), timeout=5)
        await asyncio.gather(*(m.ack() for m in batch))
        received += len(batch)
    consume_seconds = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return {"messages": messages, "publish_per_second": messages / publish_seconds,
            "pull_ack_per_second": messages / consume_seconds}


def jetstream_rate(nats_url: str, messages: int = 50_000, payload_bytes: int = 300) -> dict:
    """Acked publishes (bounded concurrency, as the orchestrator publishes) and pull+ack."""
    return asyncio.run(_jetstream_rate(nats_url, messages, payload_bytes))
