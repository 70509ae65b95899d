"""Scenario 9 (issue 15): a do-not-call CSV of 1,000,000 numbers imported through the gateway.

`POST /api/dnc/import` with `Content-Type: text/csv`, the file read from disk and sent in 64 KiB
pieces (chunked: the gateway never sees the size in advance). The gateway parses it as it
arrives and streams it to the audience service over ImportDnc, which writes chunk by chunk.
The figure is numbers per second from the first byte sent to the answer. Memory is read as
the peak resident set (VmHWM) of the gateway and the audience processes during the import:
the peak is reset (`/proc/<pid>/clear_refs`, 5) before each import, so the figure is the
import's own, not that of an earlier scenario. The same import at a tenth of the size comes
first: memory flat in the file's size means about the same peak for both.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import httpx

from bench.harness import Bench
from bench.procstats import CpuMeter, peak_rss_mb

PIECE_BYTES = 64 * 1024
PROCESSES = ("gateway", "audience")


def _write_file(path: Path, count: int, first: int) -> int:
    """A header and `count` distinct numbers, one per line; answers the file's size in bytes."""
    with path.open("w") as out:
        out.write("phone\n")
        for start in range(first, first + count, 100_000):
            out.write("".join(f"+336{i:08d}\n" for i in range(start, min(start + 100_000, first + count))))
    return path.stat().st_size


def _reset_peak(pid: int) -> None:
    """VmHWM back to the current resident set (Linux ≥ 4.0)."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def _vm_rss_mb(pid: int) -> float | None:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def _import_once(bench: Bench, count: int, first: int, workdir: Path) -> dict:
    assert bench.system is not None
    org = bench.system.create_org("Bench DNC")
    path = workdir / f"dnc-{count}.csv"
    size = _write_file(path, count, first)
    pids = {name: pid for name, pid in bench.pids().items() if name in PROCESSES}
    before = {name: _vm_rss_mb(pid) for name, pid in pids.items()}
    for pid in pids.values():
        _reset_peak(pid)
    # PostgreSQL with its backends: the writes are the import's largest cost.
    cpu = CpuMeter({**pids, "postgres": bench.server_pids()["postgres"]}, with_children=frozenset({"postgres"}))
    cpu.start()

    def pieces():
        with path.open("rb") as source:
            while data := source.read(PIECE_BYTES):
                yield data

    started = time.perf_counter()
    answer = httpx.post(bench.system.base_url + "/api/dnc/import", content=pieces(), timeout=3600,
                        headers={"x-api-key": org.api_key, "Content-Type": "text/csv"})
    seconds = time.perf_counter() - started
    spent = cpu.stop()
    answer.raise_for_status()
    body = answer.json()
    if (body["added"], body["alreadyListed"], body["invalidCount"]) != (count, 0, 0):
        raise RuntimeError(f"import of {count} numbers answered {body}")
    path.unlink()
    return {
        "numbers": count,
        "file_mb": round(size / 1024 / 1024, 1),
        "seconds": round(seconds, 2),
        "numbers_per_second": round(count / seconds),
        "rss_before_mb": {name: round(mb, 1) if mb else None for name, mb in before.items()},
        "peak_rss_mb": {name: round(mb, 1) if (mb := peak_rss_mb(pid)) else None for name, pid in pids.items()},
        "cpu_seconds": spent,
    }


def dnc_import(bench: Bench, numbers: int) -> dict:
    """A tenth of `numbers`, then `numbers`, each into an organization of its own."""
    with tempfile.TemporaryDirectory(dir=bench.root) as workdir:
        small = _import_once(bench, max(1, numbers // 10), 0, Path(workdir))
        large = _import_once(bench, numbers, 0, Path(workdir))
    growth = {name: round(large["peak_rss_mb"][name] - small["peak_rss_mb"][name], 1)
              for name in PROCESSES if large["peak_rss_mb"].get(name) and small["peak_rss_mb"].get(name)}
    return {"numbers": numbers, "seconds": large["seconds"], "numbers_per_second": large["numbers_per_second"],
            "peak_rss_growth_mb": growth, "small": small, "large": large}
