"""Scenario 11's measuring parts (bench/fair_share.py): the carrier's rules per phone prefix, the
executions' counters sampled from the execution schema, and the figures drawn from the samples
and the dialer's call records.

Every figure is in real seconds: virtual instants (call starts, `actual_end_at`) are converted
with the bench clock's speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.harness import INSTANT_CARRIER, Bench, Tenant
from bench.procstats import CpuMeter
from kernel.db import libpq_url

SAMPLE_SECONDS = 0.1


@dataclass(frozen=True)
class Counts:
    """One execution's counters at one read."""
    status: str
    done: int  # completed + failed
    in_progress: int
    pending: int
    ended_at: datetime | None


@dataclass(frozen=True)
class Sample:
    at: float  # real seconds (perf_counter)
    counts: dict[str, Counts]  # execution id → its counters


@dataclass(frozen=True)
class Launched:
    execution_id: str
    sent: datetime  # virtual instant the launch request left
    answered: datetime  # virtual instant its answer arrived
    answered_wall: datetime  # the same, on the wall clock (as PostgreSQL's now())


@dataclass(frozen=True)
class RunTimes:
    first_call_seconds: float | None  # launch answer → first call start
    first_taken_seconds: float | None  # launch answer → the dialer's first call record (the request taken)
    last_call_seconds: float | None  # launch answer → last call start
    completed_seconds: float  # launch request → completed


@dataclass(frozen=True)
class InFlight:
    """An execution's calls in flight over some samples."""
    mean: int
    least: int
    peak: int


def sim_rules(talk_seconds: float, talking_prefixes: tuple[str, ...] = (),
              varied_prefixes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The bench's carrier (answers at once); numbers starting with one of `talking_prefixes` talk
    for `talk_seconds` virtual seconds; those of `varied_prefixes` from 0.5 to 1.5 times that by
    their last digit (mean `talk_seconds`), as real calls vary; every other number hangs up at once."""
    def match(prefix: str, tail: str = "") -> str:
        return "^" + prefix.replace("+", "\\+") + tail

    rules = [{"match": match(prefix, f"[0-9]*{d}$"), "talkSeconds": round(talk_seconds * (0.5 + d / 9), 3)}
             for prefix in varied_prefixes for d in range(10)]
    rules += [{"match": match(prefix), "talkSeconds": talk_seconds} for prefix in talking_prefixes]
    return {"default": dict(INSTANT_CARRIER["default"]), "rules": rules}


def rate(samples: list[Sample], ids: list[str], start: float, end: float) -> float | None:
    """Attempts per second of `ids` together between the samples nearest `start` and `end`."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2 or inside[-1].at <= inside[0].at:
        return None
    first, last = inside[0], inside[-1]
    done = sum(last.counts[i].done - first.counts[i].done for i in ids if i in first.counts and i in last.counts)
    return done / (last.at - first.at)


def in_flight(samples: list[Sample], execution_id: str) -> InFlight | None:
    """Mean, least and most calls in flight of `execution_id` over the samples that read it."""
    held = [s.counts[execution_id].in_progress for s in samples if execution_id in s.counts]
    if not held:
        return None
    return InFlight(round(sum(held) / len(held)), min(held), max(held))


def ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value and base else None


def cores(cpu: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per process over `seconds` (those above 0.05), and all of them."""
    out = {name: round(c / seconds, 2) for name, c in cpu.items() if c / seconds >= 0.05}
    return {**out, "all": round(sum(cpu.values()) / seconds, 2)}


def claims(before: tuple[float, float], after: tuple[float, float], samples: list[Sample],
           execution_id: str) -> dict[str, float | None]:
    """The dispatch passes that claimed (the execution service's claim statements: count and
    seconds, before and after) over the samples' interval: per second, mean milliseconds, and
    attempts done per claim."""
    count, seconds = after[0] - before[0], after[1] - before[1]
    done = samples[-1].counts[execution_id].done - samples[0].counts[execution_id].done
    interval = samples[-1].at - samples[0].at
    return {"per_second": round(count / interval, 1) if interval > 0 else None,
            "mean_ms": round(seconds / count * 1000, 2) if count else None,
            "attempts_each": round(done / count, 1) if count else None}


class Counters:
    """Reads the executions' counters straight from the execution schema, one connection."""

    def __init__(self, bench: Bench):
        assert bench.system is not None
        self.conn = psycopg.connect(libpq_url(bench.system.database_url), autocommit=True)

    def read(self, ids: list[str]) -> Sample:
        rows = self.conn.execute(
            "SELECT id::text, status, contacts_completed + contacts_failed, contacts_in_progress, contacts_pending, "
            "actual_end_at FROM execution.executions WHERE id = ANY(%s::uuid[])", (ids,)).fetchall()
        return Sample(time.perf_counter(), {r[0]: Counts(r[1], r[2], r[3], r[4], r[5]) for r in rows})

    def during(self, ids: list[str], seconds: float) -> list[Sample]:
        """Samples of `ids` over `seconds`."""
        samples = [self.read(ids)]
        while time.perf_counter() - samples[0].at < seconds:
            time.sleep(SAMPLE_SECONDS)
            samples.append(self.read(ids))
        return samples

    def until(self, ids: list[str], done: list[str], timeout: float) -> list[Sample]:
        """Samples of `ids` until every execution of `done` is completed."""
        deadline = time.perf_counter() + timeout
        samples: list[Sample] = []
        while True:
            sample = self.read(ids)
            samples.append(sample)
            if all(sample.counts[i].status == "completed" for i in done):
                return samples
            if time.perf_counter() > deadline:
                raise TimeoutError(f"not completed after {timeout:.0f} s: { {i: sample.counts[i] for i in done} }")
            time.sleep(SAMPLE_SECONDS)

    def close(self) -> None:
        self.conn.close()


def meter(bench: Bench) -> CpuMeter:
    """CPU of every process of the system, PostgreSQL with its backends (as Bench.cpu_meter)."""
    return CpuMeter({**bench.pids(), **bench.server_pids()}, with_children=frozenset({"postgres"})).start()


def launch(tenant: Tenant, audience_id: str, limit: int | None = None) -> Launched:
    """A new program over the audience (`maxConcurrentCalls` = `limit`, else the maximum), launched."""
    program = tenant.program(audience_id) if limit is None else tenant.program(audience_id, maxConcurrentCalls=limit)
    sent = tenant.system.clock.now()
    execution_id = tenant.launch(program["id"])
    return Launched(execution_id, sent, tenant.system.clock.now(), datetime.now(UTC))


def run_times(bench: Bench, launched: Launched, ended_at: datetime | None) -> RunTimes:
    """When a completed execution's calls started and when it completed, from its launch."""
    assert bench.system is not None and ended_at is not None
    speed = bench.system.clock.speed
    with bench.db() as conn:
        first, last, taken = conn.execute(
            "SELECT min(started_at), max(started_at), min(created_at) FROM dialer.call_records "
            "WHERE execution_id = %s AND state = 'finished'", (launched.execution_id,)).fetchone()

    def after_answer(moment: datetime | None) -> float | None:
        return round(max(0.0, (moment - launched.answered).total_seconds() / speed), 3) if moment else None

    first_taken = round((taken - launched.answered_wall).total_seconds(), 3) if taken else None
    completed = round((ended_at - launched.sent).total_seconds() / speed, 3)
    return RunTimes(after_answer(first), first_taken, after_answer(last), completed)


def call_starts(bench: Bench, execution_id: str, start: datetime, end: datetime,
                bucket: float = 0.1) -> dict[str, float]:
    """How evenly an execution's calls started between two virtual instants, per `bucket` real
    seconds: the mean and most starts in one, and the share of buckets with none. Calls of one
    length started together end together: a pass then grants channels in bursts, with gaps between."""
    assert bench.system is not None
    speed = bench.system.clock.speed
    with bench.db() as conn:
        rows = conn.execute("SELECT started_at FROM dialer.call_records WHERE execution_id = %s "
                            "AND started_at >= %s AND started_at < %s",
                            (execution_id, start, end)).fetchall()
    buckets = max(1, int((end - start).total_seconds() / speed / bucket))
    counts = [0] * buckets
    for (started,) in rows:
        counts[min(buckets - 1, int((started - start).total_seconds() / speed / bucket))] += 1
    return {"mean": round(sum(counts) / buckets, 1), "max": max(counts),
            "empty_share": round(sum(1 for c in counts if c == 0) / buckets, 3)}
