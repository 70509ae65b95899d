"""Scenario 14 (issue 17): a CSV file of 1,000,000 contacts imported through the gateway.

`POST /api/contacts/import` with `Content-Type: text/csv`, the file generated row by row as it
is sent (64 KiB pieces, chunked: no file, on disk or in memory, and no size known in advance).
Each row has a phone, a name and a number attribute. The gateway parses the body as it arrives
and streams it to the audience service, which stages the rows (COPY) and applies them in one
transaction. The figure is rows per second from the first byte sent to the job's completion
(`GET /api/imports/{id}` polled), with the upload's own share (to the 202) beside it.

Memory: the peak resident set (VmHWM) of the gateway and the audience processes during the
import (reset before it through `/proc/<pid>/clear_refs`), and for PostgreSQL the largest sum of
the proportional set sizes (PSS: shared buffers counted once, not once per backend) of the server
and its backends, sampled with psutil while the import runs. The same import at a fifth of the size comes first: memory flat in the file's size means about the
same peaks for both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import psutil

from bench.harness import Bench
from bench.procstats import CpuMeter, peak_rss_mb

PIECE_BYTES = 64 * 1024
PROCESSES = ("gateway", "audience")
SAMPLE_SECONDS = 0.2


def _rows(count: int) -> Iterator[bytes]:
    """The file, generated piece by piece."""
    piece = ["phone,name,score\n"]
    size = len(piece[0])
    for i in range(count):
        row = f"+336{i:08d},Person {i},{i % 1000}\n"
        piece.append(row)
        size += len(row)
        if size >= PIECE_BYTES:
            yield "".join(piece).encode()
            piece, size = [], 0
    if piece:
        yield "".join(piece).encode()


def _reset_peak(pid: int) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


class _PostgresPeak:
    """The largest total proportional set size of PostgreSQL (server and backends) seen while
    running: the memory the server uses, shared memory counted once."""

    def __init__(self, pid: int):
        self._server = psutil.Process(pid)
        self._stop = threading.Event()
        self.peak_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for proc in [self._server, *self._server.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 1024 / 1024)
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> _PostgresPeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _import_once(bench: Bench, count: int) -> dict:
    assert bench.system is not None
    org = bench.system.create_org("Bench import")
    headers = {"x-api-key": org.api_key}
    base = bench.system.base_url + "/api"
    assert httpx.post(f"{base}/custom-attributes", json={"name": "Score", "type": "number"},
                      headers=headers).status_code == 201
    pids = {name: pid for name, pid in bench.pids().items() if name in PROCESSES}
    for pid in pids.values():
        _reset_peak(pid)
    postgres = bench.server_pids()["postgres"]
    cpu = CpuMeter({**pids, "postgres": postgres}, with_children=frozenset({"postgres"}))
    cpu.start()
    with _PostgresPeak(postgres) as pg:
        started = time.perf_counter()
        answer = httpx.post(f"{base}/contacts/import", content=_rows(count), timeout=3600,
                            headers={**headers, "Content-Type": "text/csv"})
        uploaded = time.perf_counter() - started
        if answer.status_code != 202:
            raise RuntimeError(f"import answered {answer.status_code}: {answer.text}")
        job = answer.json()
        while job["status"] == "running":
            time.sleep(0.2)
            job = httpx.get(f"{base}/imports/{job['id']}", headers=headers, timeout=60).json()
        seconds = time.perf_counter() - started
    spent = cpu.stop()
    if (job["status"], job["created"], job["errorCount"]) != ("completed", count, 0):
        raise RuntimeError(f"import of {count} rows ended as {job}")
    return {
        "rows": count,
        "seconds": round(seconds, 2),
        "upload_seconds": round(uploaded, 2),
        "rows_per_second": round(count / seconds),
        "peak_rss_mb": {**{name: round(mb, 1) if (mb := peak_rss_mb(pid)) else None for name, pid in pids.items()},
                        "postgres_pss_total": round(pg.peak_mb, 1)},
        "cpu_seconds": spent,
    }


def contacts_import(bench: Bench, rows: int) -> dict:
    """A fifth of `rows`, then `rows`, each into an organization of its own."""
    small = _import_once(bench, max(1, rows // 5))
    large = _import_once(bench, rows)
    growth = {name: round(large["peak_rss_mb"][name] - small["peak_rss_mb"][name], 1)
              for name in (*PROCESSES, "postgres_pss_total")
              if large["peak_rss_mb"].get(name) and small["peak_rss_mb"].get(name)}
    return {"rows": rows, "seconds": large["seconds"], "rows_per_second": large["rows_per_second"],
            "peak_rss_growth_mb": growth, "small": small, "large": large}
