"""The benchmark scenarios of `make bench`; each returns its figures as a dict.

Outbound's figure and the raw limit it is compared with are measured in the same run, on
the same PostgreSQL, NATS and machine.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bench import raw
from bench.harness import Bench, Tenant, poll
from bench.loader import load_audience, load_audiences
from bench.loadgen import LoadGenerator
from bench.procstats import cpu_seconds
from kernel.timefmt import iso

DONE = ("contactsCompleted", "contactsFailed")


def attempts_done(execution: dict) -> int:
    return sum(execution[k] for k in DONE)


def _rate_between(samples: list[tuple[float, int]], total: int, low: float = 0.1, high: float = 0.9) -> float | None:
    """Attempts per second between `low` and `high` of the total, from (time, done) samples."""

    def crossing(target: float) -> float | None:
        for (t0, d0), (t1, d1) in zip(samples, samples[1:], strict=False):
            if d0 <= target <= d1 and d1 > d0:
                return t0 + (t1 - t0) * (target - d0) / (d1 - d0)
        return None

    start, end = crossing(total * low), crossing(total * high)
    if start is None or end is None or end <= start:
        return None
    return total * (high - low) / (end - start)


def follow(tenant: Tenant, execution_id: str, total: int, timeout: float,
           interval: float = 0.5) -> tuple[list[tuple[float, int]], dict]:
    """Poll the execution until it completes; (seconds since start, attempts done) samples."""
    started = time.perf_counter()
    samples: list[tuple[float, int]] = [(0.0, 0)]
    while True:
        execution = tenant.execution(execution_id)
        samples.append((time.perf_counter() - started, attempts_done(execution)))
        if execution["status"] == "completed":
            return samples, execution
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"execution {execution_id} not completed after {timeout:.0f}s: {execution}")
        time.sleep(interval)


def settle(bench: Bench) -> None:
    """Vacuum what a scenario wrote, so that the next one is not measured beside its autovacuum."""
    with bench.db() as conn:
        for table in ("execution.execution_contacts", "execution.executions", "audience.contacts",
                      "audience.audience_members", "dialer.call_records", "account.reservations",
                      "trigger.triggers"):
            conn.execute(f"VACUUM (ANALYZE) {table}")


# ---------------------------------------------------------------- 1. launch

def launch(bench: Bench, contacts: int) -> dict:
    """Launch a batch program of `contacts` contacts; time until running with every contact counted."""
    system = bench.system
    tenant = Tenant(system)
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts)
    settle(bench)
    program = tenant.program(loaded["audience_id"])
    started = time.perf_counter()
    execution_id = tenant.launch(program["id"])
    execution = poll(lambda: (e := tenant.execution(execution_id))["status"] == "running"
                     and e["totalContacts"] == contacts and e, timeout=600, what="the launched execution")
    seconds = time.perf_counter() - started
    # Held, so that a million calls do not run under the scenarios that follow.
    tenant.org.patch(f"/program-executions/{execution_id}/pause").raise_for_status()
    copy = raw.copy_rate(system.database_url, contacts)
    rate = contacts / seconds
    return {
        "contacts": contacts, "load_seconds": round(loaded["seconds"], 2), "launch_seconds": round(seconds, 2),
        "contacts_per_second": round(rate), "total_contacts": execution["totalContacts"],
        "raw_copy_seconds": round(copy["seconds"], 2), "raw_copy_rows_per_second": round(copy["rows_per_second"]),
        "ratio": round(rate / copy["rows_per_second"], 3),
    }


# ---------------------------------------------------------------- 2. dispatch (and 5. API under load)

def _dispatch_run(bench: Bench, contacts: int, phone_prefix: str, load: dict | None = None) -> tuple[dict, dict | None]:
    system = bench.system
    tenant = Tenant(system)
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts, phone_prefix=phone_prefix)
    settle(bench)
    program = tenant.program(loaded["audience_id"])
    meter = bench.cpu_meter().start()
    started = time.perf_counter()
    execution_id = tenant.launch(program["id"])
    launched = time.perf_counter() - started
    generator = None
    if load is not None:
        generator = LoadGenerator(system.base_url, {
            "execution": f"/api/program-executions/{execution_id}", "time": "/api/time"},
            {"x-api-key": tenant.org.api_key}, **load).start()
    try:
        samples, execution = follow(tenant, execution_id, contacts, timeout=max(600.0, contacts / 50))
    finally:
        api = generator.stop() if generator is not None else None
    seconds = samples[-1][0] + launched
    cpu = meter.stop()
    attempts = attempts_done(execution)
    sustained = _rate_between(samples, attempts)
    figures = {
        "contacts": contacts, "attempts": attempts, "completed": execution["contactsCompleted"],
        "seconds_to_completed": round(seconds, 2), "attempts_per_second_overall": round(attempts / seconds),
        "attempts_per_second_sustained": round(sustained) if sustained else None,
        "execution_cpu_seconds_per_1000": round(cpu.get("execution", 0) / attempts * 1000, 3),
        "cpu_ms_per_attempt": {name: round(c / attempts * 1000, 3) for name, c in cpu.items() if c > 0.01},
        "cpu_ms_per_attempt_total": round(sum(cpu.values()) / attempts * 1000, 3),
    }
    return figures, api


def dispatch(bench: Bench, contacts: int, raw_messages: int) -> dict:
    figures, _ = _dispatch_run(bench, contacts, "+2127")
    js = raw.jetstream_rate(bench.system.nats_url, messages=raw_messages)
    claim = raw.claim_rate(bench.system.database_url, contacts)
    rate = figures["attempts_per_second_sustained"] or figures["attempts_per_second_overall"]
    figures.update({
        "raw_jetstream_publish_per_second": round(js["publish_per_second"]),
        "raw_jetstream_pull_ack_per_second": round(js["pull_ack_per_second"]),
        "raw_skip_locked_claim_per_second": round(claim["rows_per_second"]),
        "ratio_to_publish": round(rate / js["publish_per_second"], 3),
        "ratio_to_pull_ack": round(rate / js["pull_ack_per_second"], 3),
        "ratio_to_claim": round(rate / claim["rows_per_second"], 3),
    })
    return figures


def api_under_load(bench: Bench, contacts: int, workers: int, max_seconds: float) -> dict:
    """Scenario 2 again, with a load generator reading the execution and the clock meanwhile."""
    figures, api = _dispatch_run(bench, contacts, "+2128",
                                 load={"workers": workers, "max_seconds": max_seconds, "max_requests": 1_000_000})
    assert api is not None
    execution, clock = api["execution"], api["time"]
    ratio = execution["p99_ms"] / clock["p99_ms"] if execution["p99_ms"] and clock["p99_ms"] else None
    return {"workers": workers, "seconds": api["seconds"], "execution": execution, "time": clock,
            "p99_ratio": round(ratio, 2) if ratio else None,
            "dispatch_attempts_per_second": figures["attempts_per_second_sustained"]
            or figures["attempts_per_second_overall"]}


# ---------------------------------------------------------------- 3. many executions

def many_executions(bench: Bench, executions: int, contacts_each: int, s2_cpu_per_1000: float | None,
                    s2_rate: float | None) -> dict:
    """`executions` batch executions of `contacts_each` contacts, all starting at the same instant."""
    system = bench.system
    tenant = Tenant(system)
    with bench.db() as conn:
        audiences = load_audiences(conn, tenant.org.id, executions, contacts_each, phone_prefix="+2129")
    settle(bench)
    total = executions * contacts_each

    # Programs start together at a future instant, far enough ahead for every launch to be made
    # (about 30 ms each here; one started late still counts, it merely starts running at once).
    setup_real = 15 + executions * 0.05
    start_at = system.now() + timedelta(seconds=setup_real * system.clock.speed)

    def create_and_launch(audience_id: str) -> str:
        program = tenant.program(audience_id, startAt=iso(start_at))
        return tenant.launch(program["id"])

    setup_started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(create_and_launch, audiences))
    setup_seconds = time.perf_counter() - setup_started

    pid = bench.pids()["execution"]
    remaining = (start_at - system.now()).total_seconds() / system.clock.speed
    if remaining > 0:
        time.sleep(remaining)
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    samples: list[tuple[float, int]] = [(0.0, 0)]
    with bench.db() as conn:
        while True:
            done, running, finished = conn.execute(
                "SELECT coalesce(sum(contacts_completed + contacts_failed), 0), "
                "count(*) FILTER (WHERE status IN ('running', 'scheduled')), "
                "count(*) FILTER (WHERE status = 'completed') "
                "FROM execution.executions WHERE id = ANY(%s::uuid[])", (ids,)).fetchone()
            samples.append((time.perf_counter() - started, int(done)))
            if finished == executions:
                break
            if time.perf_counter() - started > max(600.0, total / 50):
                raise TimeoutError(f"{finished} of {executions} executions completed")
            time.sleep(0.5)
    seconds = samples[-1][0]
    cpu = cpu_seconds(pid) - cpu_before
    sustained = _rate_between(samples, total)
    rate = sustained or total / seconds
    cpu_per_1000 = cpu / total * 1000
    return {
        "executions": executions, "contacts_each": contacts_each, "attempts": total,
        "setup_seconds": round(setup_seconds, 1), "all_launched_before_start": setup_seconds < setup_real,
        "seconds_to_all_completed": round(seconds, 2),
        "attempts_per_second_sustained": round(rate),
        "execution_cpu_seconds_per_1000": round(cpu_per_1000, 3),
        "ratio_rate_to_scenario_2": round(rate / s2_rate, 3) if s2_rate else None,
        "ratio_cpu_to_scenario_2": round(cpu_per_1000 / s2_cpu_per_1000, 3) if s2_cpu_per_1000 else None,
    }


def new_tag() -> str:
    return uuid.uuid4().hex[:8]
