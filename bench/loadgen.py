"""A small closed-loop HTTP load generator on loopback: N workers, bounded by count and time.

Each worker sends its next request when the previous one answered, alternating between
the endpoints given, so every endpoint is measured under the same load at the same time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx


@dataclass
class EndpointStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self, seconds: float) -> dict:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

        return {"requests": len(ordered), "errors": self.errors,
                "requests_per_second": round(len(ordered) / seconds, 1) if seconds else None,
                "p50_ms": pct(50), "p99_ms": pct(99)}


async def _run(base_url: str, endpoints: dict[str, str], headers: dict[str, str], workers: int,
               max_requests: int, max_seconds: float, stop: threading.Event) -> tuple[dict[str, EndpointStats], float]:
    if urlparse(base_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the load generator only targets loopback")
    stats = {name: EndpointStats() for name in endpoints}
    names = list(endpoints)
    sent = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=30) as client:

        async def worker(offset: int) -> None:
            nonlocal sent
            turn = offset
            while sent < max_requests and time.monotonic() < deadline and not stop.is_set():
                sent += 1
                name = names[turn % len(names)]
                turn += 1
                started = time.perf_counter()
                try:
                    answer = await client.get(endpoints[name])
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    stats[name].latencies.append(time.perf_counter() - started)
                else:
                    stats[name].errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(i) for i in range(workers)))
        return stats, time.monotonic() - started


class LoadGenerator:
    """Runs the loop in a thread while the caller drives a scenario; stop() returns the figures."""

    def __init__(self, base_url: str, endpoints: dict[str, str], headers: dict[str, str] | None = None, *,
                 workers: int = 8, max_requests: int = 200_000, max_seconds: float = 120.0):
        self._args = (base_url, endpoints, headers or {}, workers, max_requests, max_seconds)
        self._stop = threading.Event()
        self._result: tuple[dict[str, EndpointStats], float] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="loadgen", daemon=True)

    def _main(self) -> None:
        try:
            self._result = asyncio.run(_run(*self._args, stop=self._stop))
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(60)
        if self._error is not None:
            raise self._error
        assert self._result is not None
        stats, seconds = self._result
        return {"seconds": round(seconds, 2), **{name: s.summary(seconds) for name, s in stats.items()}}
