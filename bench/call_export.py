"""Scenario 12 (issue 17): the CSV export of an execution of 100,000 calls streams in bounded memory.

The execution is a real one (one contact, launched and completed through REST); its call records
are then written straight into `dialer.call_records` with one INSERT … SELECT generate_series
(finished, settled, with node ids, a SIP code and an AMD decision on some), which takes seconds
where placing 100,000 calls would take minutes and measure the dialer, not the export.

`GET /api/program-executions/{id}/calls.csv` is then read as a stream and counted. The figures are
rows per second from the request to the last byte, and the gateway's (and the dialer's) resident
set before the export and its peak during it (VmHWM, reset just before, as in scenario 9). A tenth
of the calls is exported first, from an execution of its own: bounded memory means about the
same peak for both sizes.
"""

from __future__ import annotations

import time
import uuid

import httpx

from bench.dnc_import import _reset_peak, _vm_rss_mb
from bench.harness import Bench, Tenant
from bench.procstats import peak_rss_mb

PROCESSES = ("gateway", "dialer")

_INSERT = """
INSERT INTO dialer.call_records
    (id, attempt_id, execution_id, organization_id, contact_id, phone, attempt, state, owner, lease_expires_at,
     did_number, settled, outcome, started_at, answered_at, ended_at, talk_seconds, node_ids, created_at,
     sip_code, amd_result, amd_decision_ms)
SELECT gen_random_uuid(), 'bench-export:' || %(execution)s || ':' || g, %(execution)s, %(org)s,
       'contact-' || g, '+2126' || lpad(g::text, 8, '0'), 1, 'finished', 'bench', now(),
       '+212500000001', true,
       CASE WHEN g %% 4 = 0 THEN 'busy' ELSE 'answered' END,
       t, CASE WHEN g %% 4 = 0 THEN NULL ELSE t + interval '2 seconds' END, t + interval '14 seconds',
       CASE WHEN g %% 4 = 0 THEN 0 ELSE 12 END,
       '["welcome", "menu", "bye"]'::jsonb, t, CASE WHEN g %% 4 = 0 THEN 486 ELSE 200 END,
       CASE WHEN g %% 3 = 0 THEN 'human' END, CASE WHEN g %% 3 = 0 THEN 1800 END
FROM generate_series(1, %(count)s) g, LATERAL (SELECT now() + g * interval '1 millisecond' AS t) moment
"""


def _execution_with_calls(bench: Bench, tenant: Tenant, calls: int) -> str:
    assert bench.system is not None
    audience = tenant.org.post("/audiences", json={"name": "export"})
    audience.raise_for_status()
    phone = f"+2126990{uuid.uuid4().int % 100_000:05d}"  # a number of its own for each execution
    contact = tenant.org.post("/contacts/bulk", json={"contacts": [{"phone": phone}],
                                                      "audienceId": audience.json()["id"]})
    contact.raise_for_status()
    execution_id = tenant.launch(tenant.program(audience.json()["id"])["id"])
    deadline = time.monotonic() + 120
    while tenant.execution(execution_id)["status"] != "completed":
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_id} did not complete")
        time.sleep(0.2)
    with bench.db() as conn:
        conn.execute(_INSERT, {"execution": execution_id, "org": tenant.org.id, "count": calls})
        conn.execute("ANALYZE dialer.call_records")
    return execution_id


def _export_once(bench: Bench, tenant: Tenant, calls: int) -> dict:
    assert bench.system is not None
    execution_id = _execution_with_calls(bench, tenant, calls)
    pids = {name: pid for name, pid in bench.pids().items() if name in PROCESSES}
    before = {name: _vm_rss_mb(pid) for name, pid in pids.items()}
    for pid in pids.values():
        _reset_peak(pid)
    lines = 0
    size = 0
    started = time.perf_counter()
    with httpx.stream("GET", f"{bench.system.base_url}/api/program-executions/{execution_id}/calls.csv",
                      headers={"x-api-key": tenant.org.api_key}, timeout=3600) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            size += len(chunk)
            lines += chunk.count(b"\n")
    seconds = time.perf_counter() - started
    # One line more than the records: the header (no value holds a line break).
    if lines - 1 != calls + 1:
        raise RuntimeError(f"export of {calls + 1} calls held {lines - 1} rows")
    return {
        "calls": calls + 1,
        "file_mb": round(size / 1024 / 1024, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round((calls + 1) / seconds),
        "rss_before_mb": {name: round(mb, 1) if mb else None for name, mb in before.items()},
        "peak_rss_mb": {name: round(mb, 1) if (mb := peak_rss_mb(pid)) else None for name, pid in pids.items()},
    }


def call_export(bench: Bench, calls: int) -> dict:
    """A tenth of `calls`, then `calls` (each plus the one real call of its execution)."""
    assert bench.system is not None
    tenant = Tenant(bench.system)
    small = _export_once(bench, tenant, max(1, calls // 10))
    large = _export_once(bench, tenant, calls)
    growth = {name: round(large["peak_rss_mb"][name] - small["peak_rss_mb"][name], 1)
              for name in PROCESSES if large["peak_rss_mb"].get(name) and small["peak_rss_mb"].get(name)}
    over_start = {name: round(large["peak_rss_mb"][name] - large["rss_before_mb"][name], 1)
                  for name in PROCESSES if large["peak_rss_mb"].get(name) and large["rss_before_mb"].get(name)}
    return {"calls": large["calls"], "seconds": large["seconds"], "rows_per_second": large["rows_per_second"],
            "peak_rss_growth_small_to_large_mb": growth, "peak_over_before_mb": over_start,
            "small": small, "large": large}
