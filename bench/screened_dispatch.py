"""Scenario 10 (issue 15): scenario 2's dispatch with the claim-time checks of who may be called.

The organization's do-not-call list holds 1,000,000 numbers, imported through
`POST /api/dnc/import` as in scenario 9; a few of them are the audience's (one number in a
thousand), so the skip path runs too. The program has `callingHours`: a custom week allowed all
day, every day, so every contact is callable at once and the figure is the cost of the checks —
the zone gate per dispatch, the zone-key filter in the claim, the `CheckDnc` round trip of every
claim against a large list — not time spent waiting for openings. The audience's numbers are
spread over five zone keys (New York, Los Angeles, Paris, Morocco, and US toll-free numbers,
which span every US zone and a few more, so the all-zones rule runs as well).

Everything else is scenario 2's: the same audience size (`BENCH_DISPATCH_CONTACTS`), the instant
carrier, `maxConcurrentCalls` 1,000, the same rate (attempts per second between 10 % and 90 %
done) and CPU per attempt of every process from the launch to `completed`. The figures stand
beside scenario 2's of the same run, with their ratio (target: ≥ 80 %).

Where the checks' time goes is read from the services' own metrics over the same interval: the
claim statements (count, mean) of the execution service and the CheckDnc calls its claims make,
as the audience service handles them. After the run, CheckDnc is asked alone with as many numbers
as a claim sent, against the 1,000,000-number list and against an empty one: the list's own cost,
apart from the load of the dispatch.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.harness import Bench, Tenant
from bench.loader import load_audience
from bench.scenarios import _rate_between, attempts_done, follow, settle
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc

PIECE_BYTES = 64 * 1024
# The loader writes "+2127" and an eight-digit serial; the set-up rewrites four numbers in five
# into other zones, keyed by the serial (six digits for the +1 ones: at most 1,000,000 contacts).
LOADER_PREFIX = "+2127"
MAX_CONTACTS = 1_000_000
ZONE_SHARES = 5
LISTED_PER_CONTACTS = 1000  # one audience number in a thousand is on the list

# Allowed all day: [00:00, 12:00) and [12:00, 24:00) (an end before the start wraps to midnight).
ALL_DAY = [{"startAt": {"hour": 0, "minute": 0}, "endAt": {"hour": 12, "minute": 0}},
           {"startAt": {"hour": 12, "minute": 0}, "endAt": {"hour": 0, "minute": 0}}]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OPEN_WEEK = {"preset": "custom", "windows": {day: ALL_DAY for day in WEEKDAYS}}


def phone_of(serial: int) -> str:
    """The number of the contact the loader wrote with `serial`, after the zone rewrite."""
    share = serial % ZONE_SHARES
    if share == 1:
        return f"+12125{serial:06d}"  # America/New_York
    if share == 2:
        return f"+13105{serial:06d}"  # America/Los_Angeles
    if share == 3:
        return f"+3314{serial:07d}"  # Europe/Paris
    if share == 4:
        return f"+18005{serial:06d}"  # toll-free: every US zone, and more
    return f"{LOADER_PREFIX}{serial:08d}"  # Morocco, as loaded


# The same rewrite in SQL (set-up only, like the loader's COPY).
_SPREAD_SQL = f"""
    UPDATE audience.contacts c SET phone = CASE mod(s.serial, {ZONE_SHARES})
            WHEN 1 THEN '+12125' || lpad(s.serial::text, 6, '0')
            WHEN 2 THEN '+13105' || lpad(s.serial::text, 6, '0')
            WHEN 3 THEN '+3314' || lpad(s.serial::text, 7, '0')
            WHEN 4 THEN '+18005' || lpad(s.serial::text, 6, '0')
            ELSE c.phone END
    FROM (SELECT id, substr(phone, {len(LOADER_PREFIX) + 1})::int AS serial
          FROM audience.contacts WHERE organization_id = %s) s
    WHERE c.id = s.id"""


def listed_serials(contacts: int) -> list[int]:
    """The audience's contacts put on the list: spread over the audience and over the zones."""
    count = max(1, contacts // LISTED_PER_CONTACTS)
    step = contacts // count
    return [k * step + k % min(ZONE_SHARES, step) for k in range(count)]


def _write_list(path: Path, numbers: int, audience_numbers: list[str]) -> int:
    """`numbers` distinct numbers: the audience's given ones, then French mobiles; answers the size."""
    with path.open("w") as out:
        out.write("phone\n")
        out.write("".join(f"{phone}\n" for phone in audience_numbers))
        others = numbers - len(audience_numbers)
        for start in range(0, others, 100_000):
            out.write("".join(f"+336{i:08d}\n" for i in range(start, min(start + 100_000, others))))
    return path.stat().st_size


def _import_list(bench: Bench, tenant: Tenant, numbers: int, audience_numbers: list[str]) -> dict[str, Any]:
    """The list imported as scenario 9 does: a CSV file posted in 64 KiB pieces, chunked."""
    with tempfile.TemporaryDirectory(dir=bench.root) as workdir:
        path = Path(workdir) / "dnc.csv"
        size = _write_list(path, numbers, audience_numbers)

        def pieces() -> Iterator[bytes]:
            with path.open("rb") as source:
                while data := source.read(PIECE_BYTES):
                    yield data

        started = time.perf_counter()
        answer = tenant.org.post("/dnc/import", content=pieces(), timeout=3600, headers={"Content-Type": "text/csv"})
        seconds = time.perf_counter() - started
    answer.raise_for_status()
    body = answer.json()
    if (body["added"], body["alreadyListed"], body["invalidCount"]) != (numbers, 0, 0):
        raise RuntimeError(f"import of {numbers} numbers answered {body}")
    return {"numbers": numbers, "file_mb": round(size / 1024 / 1024, 1), "seconds": round(seconds, 2),
            "numbers_per_second": round(numbers / seconds)}


# (process, histogram, method label or None): where the checks' time shows in the services' metrics.
CLAIMS = ("execution", "outbound_orchestrator_claim_seconds", None)
CHECK_DNC = ("audience", "outbound_grpc_server_handling_seconds", "CheckDnc")


def _histogram(bench: Bench, which: tuple[str, str, str | None]) -> tuple[float, float]:
    """(count, sum of seconds) of a histogram of a service's /metrics, all label sets of the method."""
    process, name, method = which
    assert bench.system is not None
    [proc] = [p for p in bench.system.group.procs if p.name == process and p.instance == 0]
    text = httpx.get(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=10).text
    count = total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if method is not None and not sample.labels.get("method", "").endswith(method):
                continue
            if sample.name == f"{name}_count":
                count += sample.value
            elif sample.name == f"{name}_sum":
                total += sample.value
    return count, total


def _timings(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]],
             attempts: int) -> dict[str, Any]:
    """Per claim: the claim statement and the CheckDnc it is followed by, from the metrics' deltas."""
    out: dict[str, Any] = {}
    for key in before:
        count, seconds = after[key][0] - before[key][0], after[key][1] - before[key][1]
        out[key] = {"count": int(count), "mean_ms": round(seconds / count * 1000, 2) if count else None,
                    "attempts_each": round(attempts / count, 1) if count else None}
    return out


def _check_dnc_alone(bench: Bench, organization_id: str, contacts: int, size: int,
                     rounds: int = 200) -> dict[str, Any]:
    """CheckDnc of `size` audience numbers asked `rounds` times, one after the other, with no
    dispatch running: against the organization's list, and against an organization with an empty
    one (what scenario 2's claims ask). Mean milliseconds per call, round trip included."""
    assert bench.system is not None
    empty = bench.system.create_org("Bench empty list").id
    step = max(1, contacts // size)
    phones = [phone_of(serial) for serial in range(0, contacts, step)][:size]
    out: dict[str, Any] = {"numbers": len(phones), "rounds": rounds}
    with bench.system.channel("audience") as channel:
        stub = audience_pb2_grpc.AudienceServiceStub(channel)
        for key, org in (("listed_org_ms", organization_id), ("empty_list_ms", empty)):
            request = audience_pb2.CheckDncRequest(organization_id=org, phones=phones)
            stub.CheckDnc(request, timeout=10)  # connection and plan warm
            started = time.perf_counter()
            for _ in range(rounds):
                stub.CheckDnc(request, timeout=10)
            out[key] = round((time.perf_counter() - started) / rounds * 1000, 2)
    return out


def _zone_keys(bench: Bench, execution_id: str) -> list[str]:
    with bench.db() as conn:
        row = conn.execute("SELECT zone_keys FROM execution.executions WHERE id = %s", (execution_id,)).fetchone()
    return list(row[0] or ()) if row else []


def screened_dispatch(bench: Bench, contacts: int, dnc_numbers: int, s2: dict[str, Any] | None) -> dict[str, Any]:
    """A batch program of `contacts` contacts run to `completed` under a `dnc_numbers` list and
    calling hours; `s2`: scenario 2's figures of the same run (None when it did not run)."""
    if contacts > MAX_CONTACTS:
        raise ValueError(f"at most {MAX_CONTACTS:,} contacts (the zone rewrite keeps six serial digits)")
    system = bench.system
    assert system is not None
    tenant = Tenant(system)
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts, phone_prefix=LOADER_PREFIX)
        conn.execute(_SPREAD_SQL, (tenant.org.id,))
    listed = [phone_of(serial) for serial in listed_serials(contacts)]
    if dnc_numbers < len(listed):
        raise ValueError(f"a list of {dnc_numbers} numbers cannot hold the audience's {len(listed)}")
    imported = _import_list(bench, tenant, dnc_numbers, listed)
    settle(bench)
    with bench.db() as conn:
        conn.execute("VACUUM (ANALYZE) audience.dnc")
    program = tenant.program(loaded["audience_id"], callingHours=OPEN_WEEK)

    probes = {"claim_statement": CLAIMS, "check_dnc_server": CHECK_DNC}
    before = {key: _histogram(bench, which) for key, which in probes.items()}
    meter = bench.cpu_meter().start()
    started = time.perf_counter()
    execution_id = tenant.launch(program["id"])
    launched = time.perf_counter() - started
    samples, execution = follow(tenant, execution_id, contacts, timeout=max(600.0, contacts / 50))
    seconds = samples[-1][0] + launched
    cpu = meter.stop()
    after = {key: _histogram(bench, which) for key, which in probes.items()}

    attempts = attempts_done(execution)
    skipped_dnc = execution["contactsSkippedBy"].get("dnc", 0)
    if skipped_dnc != len(listed) or execution["contactsCompleted"] != contacts - len(listed):
        raise RuntimeError(f"expected {len(listed)} contacts skipped for dnc and the others completed: {execution}")
    zone_keys = _zone_keys(bench, execution_id)
    if len(zone_keys) != ZONE_SHARES:
        raise RuntimeError(f"expected {ZONE_SHARES} zone keys, the execution has {zone_keys}")

    per_claim = _timings(before, after, contacts)
    asked = per_claim["check_dnc_server"]["attempts_each"] or 100
    check_alone = _check_dnc_alone(bench, tenant.org.id, contacts, max(1, round(asked)))

    sustained = _rate_between(samples, attempts)
    rate = sustained or attempts / seconds
    cpu_ms = {name: round(c / attempts * 1000, 3) for name, c in cpu.items() if c > 0.01}
    cpu_ms_total = round(sum(cpu.values()) / attempts * 1000, 3)
    figures: dict[str, Any] = {
        "contacts": contacts, "attempts": attempts, "completed": execution["contactsCompleted"],
        "skipped_dnc": skipped_dnc, "dnc_list": imported, "zone_keys": len(zone_keys),
        "seconds_to_completed": round(seconds, 2), "attempts_per_second_overall": round(attempts / seconds),
        "attempts_per_second_sustained": round(sustained) if sustained else None,
        "cpu_ms_per_attempt": cpu_ms, "cpu_ms_per_attempt_total": cpu_ms_total,
        # Contacts skipped for dnc were claimed and checked too: the claims' share is per contact.
        "per_claim": per_claim, "check_dnc_alone": check_alone,
        "scenario_2_attempts_per_second": None, "scenario_2_cpu_ms_per_attempt_total": None,
        "ratio_rate_to_scenario_2": None, "ratio_cpu_to_scenario_2": None,
    }
    if s2:
        s2_rate = s2.get("attempts_per_second_sustained") or s2.get("attempts_per_second_overall")
        s2_cpu = s2.get("cpu_ms_per_attempt_total")
        s2_by_process = s2.get("cpu_ms_per_attempt") or {}
        figures.update({
            "scenario_2_attempts_per_second": s2_rate, "scenario_2_cpu_ms_per_attempt_total": s2_cpu,
            "ratio_rate_to_scenario_2": round(rate / s2_rate, 3) if s2_rate else None,
            "ratio_cpu_to_scenario_2": round(cpu_ms_total / s2_cpu, 3) if s2_cpu else None,
            # Where the checks' extra CPU goes: this scenario's ms per attempt minus scenario 2's.
            "cpu_ms_per_attempt_over_scenario_2": {
                name: round(ms - s2_by_process.get(name, 0.0), 3) for name, ms in cpu_ms.items()},
        })
    return figures
