"""Scenario 11 (issue 21): a small campaign never waits behind a big one of another organization.

Three organizations share one dialer whose channels (`DIALER_MAX_CHANNELS`, 1,000) equal a
program's limit, so that A alone holds every channel and every dispatch pass grants only what
frees: fair admission (`services/execution/fair_admission.py`) must then give B and C their share
as soon as they want it, and cost the dispatch nothing measurable. The system is started again
for it (as scenario 8 does), once, with the simulated carrier's rules keyed by phone prefix; the
scenario runs in two phases, because one kind of call cannot show both things:

1. **Rate** (instant calls, as scenario 2): A launches 1,000,000 contacts; once it holds the
   channels, its rate alone over 10 s; then B (100) and C (1,000) launch at once and the rate of
   all three from their launch to their completion stands beside scenario 2's of the same run.
   Instant calls keep the rate the system's: calls that last lower A's rate by construction
   (calls in flight over a round trip that includes the talk). A is cancelled after.
2. **Timing** (calls of `BENCH_FAIR_TALK_REAL_SECONDS`, 5 real seconds): B' (100 contacts,
   program limit 100) and C' (1,000, limit 250: under a third of the channels) run alone on the
   idle system, one after the other; then A' (100,000) until it holds every channel, and half a
   call length more (A's calls end in batches: half a call length is the mean wait of a launch
   landing anywhere between two); then B' and C' launch at once beside it. With near-instant
   calls a small campaign's completion is the loaded pipeline's round trip, not a wait for
   channels; calls that last make the wait for channels the thing measured. A' is cancelled after.

Figures of the timing phase, per B' and C', alone and beside A': real seconds from the launch's
answer to the first call's start and from the launch request to `completed`, with their ratio
(target ≤ 1.5×); their peak calls in flight; A's calls in flight before and while they run, and
how evenly A's calls started from its launch to theirs.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.fair_share_figures import (
    Counters,
    Launched,
    RunTimes,
    Sample,
    call_starts,
    claims,
    cores,
    in_flight,
    launch,
    meter,
    rate,
    ratio,
    run_times,
    sim_rules,
)
from bench.harness import Bench, Tenant, poll, sized
from bench.loader import load_audience
from bench.scenarios import settle
from bench.screened_dispatch import CLAIMS, _histogram

CHANNELS = 1000  # A's program limit: A alone holds them all, and its calls in flight are scenario 2's
TALK_REAL_SECONDS = 5.0  # the timing phase's calls: the channels bind, not the pipeline's round trip
TIMING_A_CONTACTS = 100_000  # A' at 1,000 channels / 5 s: 200 calls a second, minutes of demand
# B's and C's programs: small campaigns whose limits are under their fair share of the channels
# (a third each), so beside A they may run as fast as alone and the ratio shows what waiting costs.
SMALL_LIMITS = {"b": 100, "c": 250}
# The carrier's rules go by prefix: the rate phase's numbers hang up at once, the timing phase's talk.
RATE_PREFIXES = {"a": "+2121", "b": "+2123", "c": "+2124"}
TIMING_PREFIXES = {"a": "+2126", "b": "+2128", "c": "+2129"}
RAMP_SECONDS = 5.0  # after A first holds the channels, before its rate alone is measured
A_ALONE_SECONDS = 10.0  # A's rate alone, measured before B and C launch
HOLD = 0.99  # A "holds every channel" from this share of them on (a counter may lag a call)


def _both(tenants: dict[str, Tenant], audiences: dict[str, str]) -> tuple[dict[str, Launched], float]:
    """B and C launched at once; their launches and the real instant they left."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(launch, tenants[k], audiences[k], SMALL_LIMITS[k]) for k in ("b", "c")}
        launched_at = time.perf_counter()
        return {k: f.result() for k, f in futures.items()}, launched_at


def _still_wanting(samples: list[Sample], a_id: str, size: str) -> None:
    last = samples[-1].counts[a_id]
    if last.pending <= 0 or last.status != "running":
        raise RuntimeError(f"A stopped wanting calls before B and C completed ({last}): raise {size}")


def _flight(samples: list[Sample], execution_id: str) -> dict[str, int] | None:
    held = in_flight(samples, execution_id)
    return vars(held) if held else None


def _cancel(counters: Counters, tenant: Tenant, execution_id: str) -> int:
    """Cancel and wait until none of its calls is in flight; the attempts it had done."""
    tenant.org.delete(f"/program-executions/{execution_id}").raise_for_status()
    poll(lambda: counters.read([execution_id]).counts[execution_id].in_progress == 0, timeout=600,
         what="the cancelled execution's calls to end")
    return counters.read([execution_id]).counts[execution_id].done


def _hold(counters: Counters, a_id: str, channels: int) -> None:
    poll(lambda: counters.read([a_id]).counts[a_id].in_progress >= HOLD * channels, timeout=600,
         what="A holding the channels")


def rate_phase(bench: Bench, counters: Counters, tenants: dict[str, Tenant], audiences: dict[str, str],
               channels: int, s2_rate: float | None, timeout: float) -> dict[str, Any]:
    """A alone at saturation, then all three while B and C run; instant calls."""
    assert bench.system is not None
    a = launch(tenants["a"], audiences["a"])
    a_id = a.execution_id
    _hold(counters, a_id, channels)
    time.sleep(RAMP_SECONDS)
    cpu, claims_before = meter(bench), _histogram(bench, CLAIMS)
    alone = counters.during([a_id], A_ALONE_SECONDS)
    a_cpu, a_claims = cpu.stop(), claims(claims_before, _histogram(bench, CLAIMS), alone, a_id)
    a_rate = rate(alone, [a_id], alone[0].at, alone[-1].at)

    cpu = meter(bench)
    launched, launched_at = _both(tenants, audiences)
    ids = [a_id, launched["b"].execution_id, launched["c"].execution_id]
    samples = counters.until(ids, ids[1:], timeout)
    together_cpu = cpu.stop()
    _still_wanting(samples, a_id, "BENCH_FAIR_A_CONTACTS")
    a_done = _cancel(counters, tenants["a"], a_id)

    together = {k: run_times(bench, launched[k], samples[-1].counts[launched[k].execution_id].ended_at)
                for k in ("b", "c")}
    total_rate = rate(samples, ids, launched_at, samples[-1].at)
    seconds = samples[-1].at - launched_at
    return {
        "a_launch_seconds": round((a.answered - a.sent).total_seconds() / bench.system.clock.speed, 2),
        "a_alone_attempts_per_second": round(a_rate) if a_rate else None,
        "a_alone_in_flight": _flight(alone, a_id),
        "a_alone_cores": cores(a_cpu, alone[-1].at - alone[0].at),
        "a_alone_claims": a_claims,
        "together_seconds": round(seconds, 2),
        "together_cores": cores(together_cpu, seconds),
        "total_attempts_per_second_together": round(total_rate) if total_rate else None,
        "together": {k: vars(v) for k, v in together.items()},
        "in_flight_peak": {k: max(s.counts[i].in_progress for s in samples)
                           for k, i in zip(("a", "b", "c"), ids, strict=True)},
        # Rate = calls in flight / round trip: which of the two moved, beside A alone.
        "in_flight_mean_together": round(sum(sum(c.in_progress for c in s.counts.values()) for s in samples)
                                         / len(samples)),
        "a_attempts_at_cancel": a_done,
        "scenario_2_attempts_per_second": s2_rate,
        "ratio_rate_to_scenario_2": ratio(total_rate, s2_rate),
        "ratio_a_alone_rate_to_scenario_2": ratio(a_rate, s2_rate),
    }


def timing_phase(bench: Bench, counters: Counters, tenants: dict[str, Tenant], audiences: dict[str, str],
                 channels: int, talk_real: float, timeout: float) -> dict[str, Any]:
    """B' and C' alone, then beside A' holding every channel; calls of `talk_real` seconds."""
    assert bench.system is not None
    alone: dict[str, RunTimes] = {}
    alone_peak: dict[str, int] = {}
    for k in ("b", "c"):
        mine = launch(tenants[k], audiences[k], SMALL_LIMITS[k])
        samples = counters.until([mine.execution_id], [mine.execution_id], timeout)
        alone[k] = run_times(bench, mine, samples[-1].counts[mine.execution_id].ended_at)
        alone_peak[k] = max(s.counts[mine.execution_id].in_progress for s in samples)

    a = launch(tenants["a"], audiences["a"])
    a_id = a.execution_id
    _hold(counters, a_id, channels)
    # Calls of one length started together end together: B and C wait for the next batch of A's
    # calls to end, from nothing to a call length. Half a call length after A holds the channels
    # is the mean wait of a launch landing anywhere in that turn.
    before = counters.during([a_id], talk_real / 2)

    launched, launched_at = _both(tenants, audiences)
    ids = [a_id, launched["b"].execution_id, launched["c"].execution_id]
    samples = counters.until(ids, ids[1:], timeout)
    _still_wanting(samples, a_id, "BENCH_FAIR_TIMING_A_CONTACTS")
    a_done = _cancel(counters, tenants["a"], a_id)

    together = {k: run_times(bench, launched[k], samples[-1].counts[launched[k].execution_id].ended_at)
                for k in ("b", "c")}
    return {
        "alone": {k: vars(v) for k, v in alone.items()},
        "together": {k: vars(v) for k, v in together.items()},
        "ratio_completed": {k: ratio(together[k].completed_seconds, alone[k].completed_seconds) for k in alone},
        "ratio_first_call": {k: ratio(together[k].first_call_seconds, alone[k].first_call_seconds) for k in alone},
        "in_flight_peak_alone": alone_peak,
        "in_flight_peak_together": {k: max(s.counts[i].in_progress for s in samples)
                                    for k, i in zip(("a", "b", "c"), ids, strict=True)},
        "a_in_flight_before": _flight(before, a_id),
        "a_in_flight_during": _flight(samples, a_id),
        "launched_after_a_held_seconds": round(launched_at - before[0].at, 2),
        "a_call_starts_per_100ms_before": call_starts(bench, a_id, a.sent, launched["b"].sent),
        "together_seconds": round(samples[-1].at - launched_at, 2),
        "a_attempts_at_cancel": a_done,
    }


def fair_share(bench: Bench, a_contacts: int, b_contacts: int, c_contacts: int, s2: dict[str, Any] | None,
               speed: float) -> dict[str, Any]:
    """Scenario 11; `s2`: scenario 2's figures of the same run (None when it did not run); `speed`:
    the bench clock's."""
    channels = int(os.environ.get("BENCH_FAIR_CHANNELS") or CHANNELS)
    talk_real = float(os.environ.get("BENCH_FAIR_TALK_REAL_SECONDS") or TALK_REAL_SECONDS)
    timing_a = sized("FAIR_TIMING_A_CONTACTS", TIMING_A_CONTACTS)
    rules = bench.root / "fair-share-rules.json"
    # A' calls vary in length around the mean, as real ones do: its channels free continuously.
    rules.write_text(json.dumps(sim_rules(talk_real * speed, (TIMING_PREFIXES["b"], TIMING_PREFIXES["c"]),
                                          (TIMING_PREFIXES["a"],))))
    started = time.perf_counter()
    system = bench.start_system(clock_speed=speed, extra_env={
        "DIALER_MAX_CHANNELS": str(channels), "SIM_CARRIER_RULES": str(rules)})
    start_seconds = time.perf_counter() - started
    rate_sizes = {"a": a_contacts, "b": b_contacts, "c": c_contacts}
    timing_sizes = {"a": timing_a, "b": b_contacts, "c": c_contacts}
    # One organization per letter: A' is A's organization again, with an audience of its own.
    tenants = {k: Tenant(system) for k in rate_sizes}
    rate_audiences: dict[str, str] = {}
    timing_audiences: dict[str, str] = {}
    with bench.db() as conn:
        for k in rate_sizes:
            rate_audiences[k] = load_audience(conn, tenants[k].org.id, rate_sizes[k],
                                              phone_prefix=RATE_PREFIXES[k])["audience_id"]
            timing_audiences[k] = load_audience(conn, tenants[k].org.id, timing_sizes[k],
                                                phone_prefix=TIMING_PREFIXES[k])["audience_id"]
    settle(bench)
    s2_rate = (s2.get("attempts_per_second_sustained") or s2.get("attempts_per_second_overall")) if s2 else None
    rounds = -(-c_contacts // SMALL_LIMITS["c"])  # C's calls, one limit's worth after another
    timeout = max(120.0, (b_contacts + c_contacts) / 50) + 4 * rounds * talk_real

    counters = Counters(bench)
    try:
        rate_figures = rate_phase(bench, counters, tenants, rate_audiences, channels, s2_rate, timeout)
        settle(bench)  # A's cancelled contacts, before the calls are timed
        timing_figures = timing_phase(bench, counters, tenants, timing_audiences, channels, talk_real, timeout)
    finally:
        counters.close()
    return {
        "channels": channels, "clock_speed": speed, "small_program_limits": SMALL_LIMITS,
        "system_start_seconds": round(start_seconds, 1),
        "rate_phase": {"contacts": rate_sizes, "talk_seconds": 0, **rate_figures},
        "timing_phase": {"contacts": timing_sizes, "talk_real_seconds": talk_real,
                         "talk_seconds": round(talk_real * speed, 3), **timing_figures},
    }
