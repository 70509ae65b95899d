"""`make bench`: the scenarios of bench/README.md against the real system, each next to the raw
limit of the same servers measured in the same run; prints a table and writes
bench/results/latest.json.

    .venv/bin/python -m bench.run              # the full sizes (about 15 minutes on 2 cores)
    BENCH_SCALE=0.1 .venv/bin/python -m bench.run
    BENCH_SCENARIOS=1,2 .venv/bin/python -m bench.run
    BENCH_SCALE=0.1 BENCH_SCENARIOS=7 .venv/bin/python -m bench.run   # pause-to-quiet only
    BENCH_SCALE=0.1 BENCH_SCENARIOS=8 .venv/bin/python -m bench.run   # SIP carrier load, 100 calls
    BENCH_SCENARIOS=9 .venv/bin/python -m bench.run   # do-not-call import of 1,000,000 numbers
    BENCH_SCENARIOS=12 .venv/bin/python -m bench.run  # CSV export of a 100,000-call execution
    BENCH_SCENARIOS=2,10 .venv/bin/python -m bench.run   # dispatch, then with DNC list and calling hours
    BENCH_SCENARIOS=2,11 .venv/bin/python -m bench.run   # dispatch, then fair share between organizations
    BENCH_SCENARIOS=13 .venv/bin/python -m bench.run     # dispatch without and with 200 event streams open

Sizes: BENCH_SCALE multiplies every size; BENCH_<NAME> sets one (LAUNCH_CONTACTS,
DISPATCH_CONTACTS, EXECUTIONS, CONTACTS_EACH, LIVE_CONTACTS, LIVE_DUE, API_CONTACTS,
RAW_MESSAGES, PAUSE_CONTACTS, SIP_CONTACTS, DNC_NUMBERS, SCREENED_DNC_NUMBERS, FAIR_A_CONTACTS,
FAIR_B_CONTACTS, FAIR_C_CONTACTS; scenario 10 dispatches DISPATCH_CONTACTS, like scenario 2);
BENCH_PAUSES (25) and BENCH_PAUSE_WAIT_SECONDS (2) set scenario 7's cycles and BENCH_SIP_MAX_CALLS (240) scenario 8's lines; they are not scaled.
BENCH_CLOCK_SPEED sets the shared clock (default 5; scenario 8 runs at 1). BENCH_LOG_SLOW_MS=n logs
statements slower than n ms in the bench's PostgreSQL log (the run's files are then kept, as
with BENCH_KEEP=1; otherwise they are removed at the end).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    call_export,
    contacts_import,
    dnc_import,
    event_streams,
    fair_share,
    live_triggers,
    pause_quiet,
    scenarios,
    screened_dispatch,
    sip_load,
)
from bench.harness import Bench, scale, sized
from bench.procstats import peak_rss_mb
from bench.report import machine, table

RESULTS = Path(__file__).parent / "results" / "latest.json"
SIP_LOAD = 8


def _wanted() -> set[int]:
    raw = os.environ.get("BENCH_SCENARIOS") or "1,2,3,4,5,6,7,8,9,10,11,12,13,14"
    return {int(x) for x in raw.split(",") if x.strip()}


def main() -> int:
    wanted = _wanted()
    clock_speed = float(os.environ.get("BENCH_CLOCK_SPEED") or 5)
    results: dict[str, Any] = {"machine": machine(), "scale": scale(), "clock_speed": clock_speed,
                               "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    failures: list[str] = []
    started = time.perf_counter()
    bench = Bench(clock_speed=clock_speed)
    slow_ms = os.environ.get("BENCH_LOG_SLOW_MS")

    def run(key: str, number: int, fn, *args) -> None:
        if number not in wanted:
            return
        print(f"-- scenario {number}: {key} ...", flush=True)
        t0 = time.perf_counter()
        try:
            results[key] = fn(*args)
            print(f"   {json.dumps(results[key])}", flush=True)
        except Exception as exc:
            traceback.print_exc()
            failures.append(f"{key}: {exc!r}")
            results[key] = None
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)

    try:
        if wanted - {SIP_LOAD}:  # scenario 8 starts a system of its own
            bench.start_system()
        # Statements slower than this go to the PostgreSQL log, to find bad plans.
        if slow_ms and bench.system is not None:
            with bench.db() as conn:
                conn.execute(f"ALTER SYSTEM SET log_min_duration_statement = {int(slow_ms)}")
                conn.execute("SELECT pg_reload_conf()")
            print(f"slow statements (> {int(slow_ms)} ms) are logged in {bench.root}/postgres.log", flush=True)
        run("launch", 1, scenarios.launch, bench, sized("LAUNCH_CONTACTS", 1_000_000))
        run("dispatch", 2, scenarios.dispatch, bench, sized("DISPATCH_CONTACTS", 100_000),
            sized("RAW_MESSAGES", 100_000))
        if 6 in wanted:
            results["peak_rss_mb"] = {name: peak_rss_mb(pid) for name, pid in bench.pids().items()}
        s2 = results.get("dispatch") or {}
        run("many_executions", 3, scenarios.many_executions, bench, sized("EXECUTIONS", 1000),
            int(os.environ.get("BENCH_CONTACTS_EACH") or 100), s2.get("execution_cpu_seconds_per_1000"),
            s2.get("attempts_per_second_sustained") or s2.get("attempts_per_second_overall"))
        run("live_triggers", 4, live_triggers.live_triggers, bench, sized("LIVE_CONTACTS", 100_000),
            sized("LIVE_DUE", 10_000))
        run("api_under_load", 5, scenarios.api_under_load, bench, sized("API_CONTACTS", 50_000),
            int(os.environ.get("BENCH_API_WORKERS") or 4), 120.0)
        run("pause_to_quiet", 7, pause_quiet.pause_to_quiet, bench, sized("PAUSE_CONTACTS", 100_000),
            int(os.environ.get("BENCH_PAUSES") or 25), float(os.environ.get("BENCH_PAUSE_WAIT_SECONDS") or 2))
        run("dnc_import", 9, dnc_import.dnc_import, bench, sized("DNC_NUMBERS", 1_000_000))
        run("call_export", 12, call_export.call_export, bench, sized("EXPORT_CALLS", 100_000))
        run("contacts_import", 14, contacts_import.contacts_import, bench, sized("IMPORT_ROWS", 1_000_000))
        # Scenario 2's dispatch twice, without and with open event streams on the execution.
        run("event_streams", 13, event_streams.event_streams, bench, sized("DISPATCH_CONTACTS", 100_000),
            int(os.environ.get("BENCH_EVENT_STREAMS") or 200))
        # Scenario 2's dispatch again, with its figures of this run beside: run them together.
        run("screened_dispatch", 10, screened_dispatch.screened_dispatch, bench,
            sized("DISPATCH_CONTACTS", 100_000), sized("SCREENED_DNC_NUMBERS", 1_000_000), results.get("dispatch"))
        # Scenario 2's rate beside: run them together. It replaces the system with one of fewer channels.
        run("fair_share", 11, fair_share.fair_share, bench, sized("FAIR_A_CONTACTS", 1_000_000),
            sized("FAIR_B_CONTACTS", 100), sized("FAIR_C_CONTACTS", 1000), results.get("dispatch"), clock_speed)
        # Last: it replaces the system with one whose dialer calls through SIP (CARRIER=sip).
        run("sip_load", SIP_LOAD, sip_load.sip_carrier_load, bench, sized("SIP_CONTACTS", 1000),
            int(os.environ.get("BENCH_SIP_MAX_CALLS") or 240))
    finally:
        if failures and bench.system is not None:
            print(bench.system.logs()[-6000:], file=sys.stderr)
        bench.close(keep=bool(slow_ms or os.environ.get("BENCH_KEEP")))
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["failures"] = failures
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    m = results["machine"]
    print(f"\nOutbound benchmarks — {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, "
          f"clock x{clock_speed:g}, scale {scale():g}, {results['seconds']:.0f} s\n")
    print(table(results))
    print(f"\nwritten to {RESULTS}")
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
