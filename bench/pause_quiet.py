"""Scenario 7, pause to quiet: how long calls keep starting after the API has answered a pause.

The dispatch of scenario 2 (same set-up: a batch program over an audience written with COPY,
the instant carrier, 1,000 calls in flight at most) is paused and resumed over and over. For
each pause the figure is the real time from the moment the `PATCH …/pause` answer arrived at
the client to the last call start of the execution (the latest `started_at` of its
`dialer.call_records`, a virtual instant of the shared clock, converted with the clock's
speed), or 0 when no call started after the answer.

One cycle: the execution dispatches for 0.5–1 s (a seeded random draw), is paused, the bench
waits until it has no call in progress (or `wait_seconds`), reads the last call start, and
resumes it. A call started after that read would be missed, so the pauses that had not
drained by then are counted (`pauses_not_drained`); their latencies are lower bounds. When an
execution runs out of pending contacts (small scales) a new program over the same audience is
launched and the cycles go on; the last execution is cancelled at the end.
"""

from __future__ import annotations

import random
import time
from datetime import datetime

from bench.harness import Bench, Tenant, poll
from bench.loader import load_audience
from bench.scenarios import settle

DISPATCH_SECONDS = (0.5, 1.0)


def _pct(values: list[float], p: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 3) if ordered else None


class _Runner:
    """The current execution of the scenario, launched again when it has nothing left to dial."""

    def __init__(self, bench: Bench, tenant: Tenant, audience_id: str):
        self.bench, self.tenant, self.audience_id = bench, tenant, audience_id
        self.execution_ids: list[str] = []

    @property
    def current(self) -> str:
        return self.execution_ids[-1]

    def launch(self) -> None:
        program = self.tenant.program(self.audience_id)
        execution_id = self.tenant.launch(program["id"])
        self.execution_ids.append(execution_id)
        poll(lambda: self.tenant.execution(execution_id)["status"] == "running", timeout=120,
             what="the launched execution to run")

    def ensure_dialing(self) -> None:
        """A running execution with contacts left to dial: the current one, or a new one."""
        if self.execution_ids:
            execution = self.tenant.execution(self.current)
            if execution["status"] == "running" and execution["contactsPending"] > 0:
                return
            if execution["status"] not in ("completed", "cancelled", "stopped"):
                self.cancel()
        self.launch()

    def cancel(self) -> None:
        """Cancel the current execution; one that has just completed answers 400, which is fine."""
        answer = self.tenant.org.delete(f"/program-executions/{self.current}")
        if answer.status_code not in (204, 400, 404, 409):
            raise RuntimeError(f"cancel refused: {answer.status_code} {answer.text}")

    def quiet(self, wait_seconds: float) -> int:
        """Wait until no call of the execution is in progress, or `wait_seconds`; those still in progress."""
        deadline = time.perf_counter() + wait_seconds
        while True:
            in_progress = self.tenant.execution(self.current)["contactsInProgress"]
            if in_progress == 0 or time.perf_counter() >= deadline:
                return in_progress
            time.sleep(0.05)

    def last_start(self, ack: datetime) -> tuple[datetime | None, int]:
        """The latest call start of the execution, and how many calls started after `ack` (virtual)."""
        with self.bench.db() as conn:
            last, after = conn.execute(
                "SELECT max(started_at), count(*) FILTER (WHERE started_at > %s) "
                "FROM dialer.call_records WHERE execution_id = %s", (ack, self.current)).fetchone()
        return last, int(after)

    def not_placed(self) -> int:
        with self.bench.db() as conn:
            return int(conn.execute(
                "SELECT count(*) FROM dialer.call_records WHERE execution_id = ANY(%s) AND outcome = 'not_placed'",
                (self.execution_ids,)).fetchone()[0])


def pause_to_quiet(bench: Bench, contacts: int, pauses: int, wait_seconds: float, seed: int = 7) -> dict:
    system = bench.system
    speed = system.clock.speed
    tenant = Tenant(system)
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts, phone_prefix="+2122")
    settle(bench)
    runner = _Runner(bench, tenant, loaded["audience_id"])
    rng = random.Random(seed)
    latencies: list[float] = []
    answers_ms: list[float] = []
    after_ack = not_drained = refused = 0
    started = time.perf_counter()
    try:
        while len(latencies) < pauses:
            runner.ensure_dialing()
            time.sleep(rng.uniform(*DISPATCH_SECONDS))
            sent = time.perf_counter()
            answer = tenant.org.patch(f"/program-executions/{runner.current}/pause")
            ack = system.now()  # the virtual instant the answer arrived
            if answer.status_code != 200:  # completed meanwhile: the next cycle launches a new one
                refused += 1
                if refused > pauses:
                    raise RuntimeError(f"pause refused {refused} times: {answer.status_code} {answer.text}")
                continue
            answers_ms.append((time.perf_counter() - sent) * 1000)
            in_progress = runner.quiet(wait_seconds)
            last, started_after = runner.last_start(ack)
            latencies.append(max(0.0, (last - ack).total_seconds() / speed) if last else 0.0)
            after_ack += started_after
            not_drained += in_progress > 0
            resumed = tenant.org.patch(f"/program-executions/{runner.current}/resume")
            if resumed.status_code != 200:
                raise RuntimeError(f"resume refused: {resumed.status_code} {resumed.text}")
    finally:
        if runner.execution_ids:
            runner.cancel()
    seconds = time.perf_counter() - started
    return {
        "contacts": contacts, "pauses": len(latencies), "clock_speed": speed, "wait_seconds": wait_seconds,
        "latency_p50_seconds": _pct(latencies, 50), "latency_p99_seconds": _pct(latencies, 99),
        "latency_max_seconds": round(max(latencies), 3),
        "pauses_with_calls_after_ack": sum(1 for x in latencies if x > 0),
        "calls_started_after_ack": after_ack, "pauses_not_drained": not_drained,
        "pause_answer_p50_ms": _pct(answers_ms, 50), "pause_answer_p99_ms": _pct(answers_ms, 99),
        "not_placed_records": runner.not_placed(), "executions": len(runner.execution_ids),
        "seconds": round(seconds, 1), "latencies_seconds": [round(x, 3) for x in latencies],
    }
