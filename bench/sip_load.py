"""Scenario 8, SIP carrier load: one dialer replica with `CARRIER=sip` places a campaign's calls
to SIPp in load mode, and the flow runs over real audio on every answered call.

The system is started afresh for this scenario (the other scenarios use the simulated carrier),
at clock speed 1 so that the call records' instants are real ones (bench/call_figures.py). SIPp
(bench/sipp_load.py) rings, answers after 1 s, sends the RFC 4733 digit 1 and hangs up after
20 s. The flow speaks a gather prompt; "1" leads to a long `say` (then hangup), no digit to
another; both prompts outlast the far end's 20 s, so every call is ended by SIPp's BYE and a BYE
of ours would show as a failed call in SIPp's counts.

Figures: the most answered calls up at once (from the call records, and SIPp's CurrentCall),
the set-up rate while the lines fill, the dialer's CPU (its process and its line-worker
children, from /proc) per call-second, the calls that took the digit's branch, the prompt audio
that reached the far end, SIPp's failed and dead-call counts, and the calls left open at the end.
The trunk's own limits are set far above the targets (checked before the run), and the figures
say whether they were reached all the same (`trunk_bound`).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.call_figures import PlacedCall, call_seconds, peak_answered, ramp_rate, steady_rate, took
from bench.harness import Bench, Tenant
from bench.loader import load_audience
from bench.procstats import cpu_seconds
from bench.sipp_load import FarEndTimes, SippLoad, SippSample
from services.dialer.adapters.sip_pool import LINES

# The targets for one dialer replica on 2 cores.
TARGET_CALLS = 200
TARGET_SETUPS_PER_SECOND = 50
# RTP ports of the line workers: 2 per call at least (rtp_slices); any port taken already is
# skipped by pjsua, which tries the next one of its slice.
RTP_PORTS = "30000-34000"
IDLE_SECONDS = 5.0  # the dialer's CPU with every line worker up and no call, before the campaign
CPU_WINDOW = 5.0  # seconds over which the dialer's peak CPU is averaged
POLL_SECONDS = 0.25
CONFIRMED, MISSED = "confirm", "missed"

# About 31 s of speech: longer than the far end's 20 s, whichever branch the call takes.
LONG_TEXT = (
    "Thank you, your appointment is confirmed. Please arrive ten minutes early and bring your identity "
    "card, your insurance card and the letter we sent you. If you need to change the time, call us back "
    "on the number shown on your letter, any weekday between nine and five. Parking is free for patients "
    "in the car park behind the main building; the entrance is on the left of the pharmacy. We look "
    "forward to seeing you. This message will now be repeated. Thank you, your appointment is confirmed. "
    "Please arrive ten minutes early and bring your identity card.")

FLOW = {
    "name": "Bench SIP reminder",
    "startNodeId": "menu",
    "nodes": [
        {"id": "menu", "type": "gather",
         "prompt": "Hello. This is a reminder of your appointment tomorrow. Press 1 to confirm it.",
         "options": {"1": CONFIRMED}, "timeoutSeconds": 5, "noInput": MISSED},
        {"id": CONFIRMED, "type": "say", "text": LONG_TEXT, "next": "bye"},
        {"id": MISSED, "type": "say", "text": "We did not hear your answer. " + LONG_TEXT, "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}


def trunk_entry(uri: str, max_calls: int) -> dict[str, Any]:
    """The bench's one trunk. Its limits are real (held in Redis like any trunk's) but set far
    above the targets and the lines, so that the figures are the dialer's, not the trunk's."""
    entry: dict[str, Any] = {"name": "sipp-load", "uri": uri,
                             "maxCallsPerSecond": 20 * TARGET_SETUPS_PER_SECOND,
                             "maxConcurrentCalls": 2 * max(max_calls, TARGET_CALLS)}
    if entry["maxCallsPerSecond"] < 2 * TARGET_SETUPS_PER_SECOND or entry["maxConcurrentCalls"] < max_calls:
        raise ValueError(f"the bench trunk would cap the load below its targets: {entry}")
    return entry


class DialerCpu:
    """CPU seconds of the dialer process and of its line workers (its children, from /proc)."""

    def __init__(self, pid: int):
        self.pid = pid

    def read(self) -> tuple[float, float]:
        own = cpu_seconds(self.pid)
        return own, cpu_seconds(self.pid, with_children=True) - own


def _all_calls(tenant: Tenant, execution_id: str) -> list[PlacedCall]:
    calls: list[PlacedCall] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        answer = tenant.org.get(f"/program-executions/{execution_id}/calls", params=params)
        answer.raise_for_status()
        calls += [PlacedCall.from_api(raw) for raw in answer.json()]
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return calls


@dataclass(frozen=True)
class Followed:
    execution: dict[str, Any]  # the last read
    seconds: float  # from the launch to `completed`, or to the last progress when it stalled
    cpu: tuple[float, float]  # the dialer's CPU reading (own, line workers) at that moment
    peak_cores: float  # the dialer's most cores over any CPU_WINDOW seconds
    rtp_dropped: int | None  # RTP packets seen at the far end (read while SIPp runs)
    stalled: bool  # no call finished for STALL_SECONDS: calls were left open


def _follow(tenant: Tenant, execution_id: str, dialer: DialerCpu, far_end: SippLoad, stall_seconds: float,
            timeout: float) -> Followed:
    """Poll the execution until it completes, or until no call has finished for `stall_seconds`
    (a call left open would otherwise hold the scenario until its timeout, and the figures with it)."""
    started = time.perf_counter()
    readings: list[tuple[float, tuple[float, float]]] = [(0.0, dialer.read())]
    rtp: int | None = None
    done, progressed = -1, 0.0
    while True:
        execution = tenant.execution(execution_id)
        now = time.perf_counter() - started
        readings.append((now, dialer.read()))
        rtp = max(rtp or 0, far_end.media_packets_dropped() or 0) or rtp
        if execution["contactsCompleted"] + execution["contactsFailed"] != done:
            done, progressed = execution["contactsCompleted"] + execution["contactsFailed"], now
        stalled = now - progressed > stall_seconds
        if execution["status"] == "completed" or stalled:
            break
        if now > timeout:
            raise TimeoutError(f"execution {execution_id} not completed after {timeout:.0f}s: {execution}")
        time.sleep(POLL_SECONDS)
    end = progressed if stalled else now
    cpu = [(t, sum(r)) for t, r in readings if t <= end]
    peak = 0.0
    for i, (t0, c0) in enumerate(cpu):
        later = [(t1, c1) for t1, c1 in cpu[i + 1:] if t1 - t0 >= CPU_WINDOW]
        if later:
            peak = max(peak, (later[0][1] - c0) / (later[0][0] - t0))
    last = [r for t, r in readings if t <= end][-1]
    return Followed(execution, end, last, peak, rtp, stalled)


@dataclass(frozen=True)
class Run:
    """What one run measured besides the calls themselves."""

    start_seconds: float  # the system's start, the dialer's line workers included
    seconds: float  # from the launch to `completed` (or to the last call finished, when stalled)
    execution: dict[str, Any]  # as the API answered at the end
    stalled: bool  # the execution stopped making progress with calls still open
    sipp_exit: int | None
    idle_cores: float  # the dialer with its lines up and no call
    peak_cores: float
    cpu: dict[str, float]  # CPU seconds over `seconds`: dialer, line_workers
    open_records: int  # the execution's call records still claimed or placing
    rtp_dropped: int | None


def sip_carrier_load(bench: Bench, contacts: int, max_calls: int) -> dict[str, Any]:
    workdir = bench.root / f"sip-load-{uuid.uuid4().hex[:6]}"
    times = FarEndTimes()
    far_end = SippLoad(workdir, calls=contacts, times=times).start()
    try:
        trunk = trunk_entry(far_end.uri, max_calls)
        calls, run = _run(bench, workdir, far_end, trunk, contacts, max_calls, times)
        figures = _figures(contacts, max_calls, trunk, times, calls, far_end.samples(), run)
        if figures["sipp_failed"] or figures["sipp_exit_code"] != 0:
            figures["sipp_errors"] = far_end.errors(600)  # SIPp's own account of what went wrong
        return figures
    finally:
        far_end.stop()


def _run(bench: Bench, workdir: Path, far_end: SippLoad, trunk: dict[str, Any], contacts: int, max_calls: int,
         times: FarEndTimes) -> tuple[list[PlacedCall], Run]:
    trunks = workdir / "trunks.json"
    trunks.write_text(json.dumps([trunk]))
    started_system = time.perf_counter()
    system = bench.start_system(clock_speed=1.0, extra_env={
        "CARRIER": "sip", "SIP_TRUNKS": str(trunks), "SIP_MAX_CALLS": str(max_calls), "RTP_PORTS": RTP_PORTS,
        "PROMPT_CACHE_DIR": str(workdir / "prompts")})
    start_seconds = time.perf_counter() - started_system
    tenant = Tenant(system)
    flow = tenant.org.post("/flows", json=FLOW)
    flow.raise_for_status()
    with bench.db() as conn:
        loaded = load_audience(conn, tenant.org.id, contacts, phone_prefix="+2126")
    program = tenant.program(loaded["audience_id"], flowId=flow.json()["id"], maxConcurrentCalls=max_calls)

    dialer = DialerCpu(bench.pids()["dialer"])
    before = dialer.read()
    time.sleep(IDLE_SECONDS)
    idle = dialer.read()

    execution_id = tenant.launch(program["id"])
    call_length = (times.answer_after_ms + times.talk_ms) / 1000
    followed = _follow(tenant, execution_id, dialer, far_end, stall_seconds=max(60.0, 3 * call_length),
                       timeout=300 + -(-contacts // max_calls) * call_length * 3)
    done = followed.cpu
    # Calls the dialer failed never reach SIPp, which then waits for them: the wait is bounded.
    sipp_exit = far_end.finish(timeout=30)

    calls = _all_calls(tenant, execution_id)
    with bench.db() as conn:
        open_records = int(conn.execute(
            "SELECT count(*) FROM dialer.call_records WHERE execution_id = %s AND state IN ('claimed', 'placing')",
            (execution_id,)).fetchone()[0])
    return calls, Run(start_seconds=start_seconds, seconds=followed.seconds, execution=followed.execution,
                      stalled=followed.stalled, sipp_exit=sipp_exit,
                      idle_cores=(sum(idle) - sum(before)) / IDLE_SECONDS, peak_cores=followed.peak_cores,
                      cpu={"dialer": done[0] - idle[0], "line_workers": done[1] - idle[1]},
                      open_records=open_records, rtp_dropped=followed.rtp_dropped)


def _figures(contacts: int, max_calls: int, trunk: dict[str, Any], times: FarEndTimes, calls: list[PlacedCall],
             sipp: list[SippSample], run: Run) -> dict[str, Any]:
    last = sipp[-1] if sipp else None
    ramp_size = min(max_calls, contacts)
    peak, ramp = peak_answered(calls), ramp_rate(calls, ramp_size)
    most_in_one_second = max((b.incoming - a.incoming for a, b in zip(sipp, sipp[1:], strict=False)), default=None)
    talk = call_seconds(calls)
    used = sum(run.cpu.values())
    above_idle = used - run.idle_cores * run.seconds
    outcomes: dict[str, int] = {}
    for c in calls:
        outcomes[c.outcome] = outcomes.get(c.outcome, 0) + 1
    answered = outcomes.get("answered", 0)

    def per_call_second(value: float | None, scale: float = 1.0) -> float | None:
        return round(value / talk * scale, 2) if talk and value else None

    return {
        "contacts": contacts, "sip_max_calls": max_calls, "line_workers": -(-max_calls // LINES),
        "trunk": {k: v for k, v in trunk.items() if k != "uri"},
        # The trunk's own limits were reached: the figures would be the trunk's, not the dialer's.
        "trunk_bound": bool((most_in_one_second or 0) >= 0.9 * trunk["maxCallsPerSecond"]
                            or peak.calls >= 0.9 * trunk["maxConcurrentCalls"]),
        "far_end": {"answer_after_ms": times.answer_after_ms, "digit_after_ms": times.digit_after_ms,
                    "talk_ms": times.talk_ms},
        "system_start_seconds": round(run.start_seconds, 1), "seconds_to_completed": round(run.seconds, 1),
        "status": run.execution["status"], "stalled": run.stalled, "completed": run.execution["contactsCompleted"],
        "failed": run.execution["contactsFailed"], "outcomes": outcomes,
        "peak_answered_calls": peak.calls, "seconds_to_peak": peak.seconds_to_peak,
        "sipp_peak_current_calls": max((s.current for s in sipp), default=None),
        "ramp_calls": ramp.calls, "ramp_answers_per_second": ramp.answers_per_second,
        "steady_answers_per_second": steady_rate(calls, ramp_size),
        "sipp_max_calls_received_in_one_second": most_in_one_second,
        "call_seconds": round(talk, 1),
        "dialer_cpu_seconds": {name: round(value, 2) for name, value in run.cpu.items()},
        "dialer_cpu_ms_per_call_second": per_call_second(used, 1000),
        "dialer_cpu_ms_per_call_second_above_idle": per_call_second(above_idle, 1000),
        "dialer_cpu_ms_per_answered_call": round(used / answered * 1000, 1) if answered else None,
        "dialer_idle_cores": round(run.idle_cores, 3), "dialer_peak_cores": round(run.peak_cores, 2),
        "dialer_mean_cores": round(used / run.seconds, 2),
        "digit_branch_calls": took(calls, CONFIRMED), "no_input_calls": took(calls, MISSED),
        # Prompt audio that reached the far end, dropped unread at its media socket (a lower bound:
        # its buffer holds a few hundred, and the last poll comes up to POLL_SECONDS before SIPp
        # exits): 50 packets per call-second when prompts play throughout.
        "rtp_packets_at_far_end": run.rtp_dropped,
        "rtp_packets_per_call_second": per_call_second(run.rtp_dropped),
        "sipp_exit_code": run.sipp_exit, "sipp_calls_received": last.incoming if last else None,
        "sipp_successful": last.successful if last else None, "sipp_failed": last.failed if last else None,
        "sipp_dead_call_msgs": last.dead_call_msgs if last else None,
        "sipp_out_of_call_msgs": last.out_of_call_msgs if last else None,
        "sipp_retransmissions": last.retransmissions if last else None,
        "sipp_auto_answered": last.auto_answered if last else None,
        "open_at_end": {"sipp_current_calls": last.current if last else None,
                        "contacts_in_progress": run.execution["contactsInProgress"],
                        "dialer_open_records": run.open_records},
    }
