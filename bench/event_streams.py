"""Scenario 13 (issue 18): scenario 2's dispatch with 0, then with N (default 200) event streams open.

Both runs are scenario 2's: an audience of `BENCH_DISPATCH_CONTACTS` loaded the same way, the
instant carrier, `maxConcurrentCalls` 1,000, the rate measured between 10 % and 90 % done. In
the second run, N clients open `GET /api/program-executions/{id}/events` on the running
execution right after the launch and read until `end`. The figure is the rate with the streams
over the rate without (target: ≥ 90 %), measured in the same run on the same servers; the
streams' own figures (events, every stream ended, the last counters equal to the final
execution) are reported beside it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx

from bench.harness import Bench, Tenant
from bench.loader import load_audience
from bench.scenarios import _rate_between, attempts_done, follow, settle


class Streams:
    """N event streams of one execution, read in a thread of their own until each ends."""

    def __init__(self, base_url: str, api_key: str, execution_id: str, n: int):
        self.base_url, self.api_key, self.execution_id, self.n = base_url, api_key, execution_id, n
        self.results: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._all()), daemon=True)

    def start(self) -> Streams:
        self.thread.start()
        return self

    def join(self, timeout: float) -> list[dict[str, Any]]:
        self.thread.join(timeout)
        return self.results

    async def _all(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url + "/api", headers={"x-api-key": self.api_key},
                                     timeout=httpx.Timeout(30, read=600),
                                     limits=httpx.Limits(max_connections=self.n + 10)) as http:
            self.results = list(await asyncio.gather(*(self._one(http) for _ in range(self.n))))

    async def _one(self, http: httpx.AsyncClient) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        last_counters = None
        kind = ""
        async with http.stream("GET", f"/program-executions/{self.execution_id}/events") as answer:
            async for line in answer.aiter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    kinds[kind] = kinds.get(kind, 0) + 1
                elif line.startswith("data:") and kind == "counters":
                    last_counters = json.loads(line[5:])
                elif line == "" and kind == "end":
                    break
        return {"events": kinds, "ended": kinds.get("end", 0) == 1, "last_counters": last_counters}


def _run(bench: Bench, contacts: int, streams: int, phone_prefix: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    system = bench.system
    assert system is not None
    tenant = Tenant(system)
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts, phone_prefix=phone_prefix)
    settle(bench)
    program = tenant.program(loaded["audience_id"])
    started = time.perf_counter()
    execution_id = tenant.launch(program["id"])
    launched = time.perf_counter() - started
    readers = Streams(system.base_url, tenant.org.api_key, execution_id, streams).start() if streams else None
    samples, execution = follow(tenant, execution_id, contacts, timeout=max(600.0, contacts / 50))
    results = readers.join(120) if readers is not None else []
    attempts = attempts_done(execution)
    sustained = _rate_between(samples, attempts)
    seconds = samples[-1][0] + launched
    figures: dict[str, Any] = {"streams": streams, "attempts": attempts, "seconds_to_completed": round(seconds, 2),
               "attempts_per_second": round(sustained or attempts / seconds)}
    final = tenant.execution(execution_id)
    if streams:
        figures.update({
            "streams_ended": sum(r["ended"] for r in results),
            "streams_final_counters_equal": sum(r["last_counters"] == final for r in results),
            "counters_events_per_stream_max": max((r["events"].get("counters", 0) for r in results), default=0),
            "status_events_per_stream": sorted({r["events"].get("status", 0) for r in results}),
        })
    return figures, results


def event_streams(bench: Bench, contacts: int, streams: int) -> dict[str, Any]:
    without, _ = _run(bench, contacts, 0, "+2123")
    with_streams, _ = _run(bench, contacts, streams, "+2124")
    return {
        "contacts": contacts, "streams": streams,
        "attempts_per_second_without_streams": without["attempts_per_second"],
        "attempts_per_second_with_streams": with_streams["attempts_per_second"],
        "ratio": round(with_streams["attempts_per_second"] / without["attempts_per_second"], 3),
        "without": without, "with": with_streams,
    }
