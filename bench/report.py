"""The results table printed by `make bench` and the machine it ran on."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "memory_gb": memory_gb, "cpu_model": model,
            "python": platform.python_version(), "load_average_at_start": [round(x, 2) for x in load or ()]}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        text = f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text}{unit}"


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.0f} %"


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(scenario, figure, raw limit, ratio, target) rows of the table."""
    out: list[tuple[str, str, str, str, str]] = []
    s1 = results.get("launch")
    if s1:
        out.append((f"1. Launch {s1['contacts']:,} contacts",
                    f"{s1['launch_seconds']:.1f} s = {_fmt(s1['contacts_per_second'])} rows/s",
                    f"COPY {_fmt(s1['raw_copy_rows_per_second'])} rows/s", _pct(s1["ratio"]), ">= 50 %"))
    s2 = results.get("dispatch")
    if s2:
        rate = s2["attempts_per_second_sustained"] or s2["attempts_per_second_overall"]
        out.append((f"2. Dispatch {s2['contacts']:,} contacts",
                    f"{_fmt(rate)} attempts/s (completed in {s2['seconds_to_completed']:.1f} s)",
                    f"JetStream publish {_fmt(s2['raw_jetstream_publish_per_second'])}/s",
                    _pct(s2["ratio_to_publish"]), ">= 2,000/s and >= 20 %"))
        out.append(("", "", f"JetStream pull+ack {_fmt(s2['raw_jetstream_pull_ack_per_second'])}/s",
                    _pct(s2["ratio_to_pull_ack"]), ""))
        out.append(("", "", f"SKIP LOCKED claim {_fmt(s2['raw_skip_locked_claim_per_second'])} rows/s",
                    _pct(s2["ratio_to_claim"]), ""))
    s3 = results.get("many_executions")
    if s3:
        out.append((f"3. {s3['executions']:,} executions x {s3['contacts_each']}",
                    f"{_fmt(s3['attempts_per_second_sustained'])} attempts/s, "
                    f"{s3['execution_cpu_seconds_per_1000']:.2f} CPU s/1000",
                    f"scenario 2: {_fmt(s2 and (s2['attempts_per_second_sustained'] or s2['attempts_per_second_overall']))}/s, "
                    f"{_fmt(s2 and s2['execution_cpu_seconds_per_1000'])} CPU s/1000",
                    f"{_pct(s3['ratio_rate_to_scenario_2'])} rate, {_pct(s3['ratio_cpu_to_scenario_2'])} CPU", ""))
    s4 = results.get("live_triggers")
    if s4:
        out.append((f"4. Live: pre-compute {s4['contacts']:,} triggers",
                    f"{s4['launch_with_precompute_seconds']:.2f} s = {_fmt(s4['precompute_rows_per_second'])} rows/s",
                    f"COPY {_fmt(s4['raw_copy_rows_per_second'])} rows/s", _pct(s4["precompute_ratio"]), ""))
        out.append((f"   {s4['due_in_one_virtual_minute']:,} due in 1 virtual min (x{s4['clock_speed']:g})",
                    f"lag p50 {s4['lag_p50_seconds']:.2f} s, p99 {s4['lag_p99_seconds']:.2f} s", "", "",
                    "p99 <= 1.5 s"))
    s5 = results.get("api_under_load")
    if s5:
        e, t = s5["execution"], s5["time"]
        out.append(("5. GET /api/program-executions/{id}",
                    f"{_fmt(e['requests_per_second'])} req/s, p50 {_fmt(e['p50_ms'])} ms, p99 {_fmt(e['p99_ms'])} ms",
                    f"GET /api/time p50 {_fmt(t['p50_ms'])} ms, p99 {_fmt(t['p99_ms'])} ms "
                    f"({_fmt(t['requests_per_second'])} req/s)",
                    f"{_fmt(s5['p99_ratio'])} x p99", "<= 5 x"))
    s6 = results.get("peak_rss_mb")
    if s6:
        out.append(("6. Peak RSS, scenarios 1-2",
                    ", ".join(f"{name} {mb:.0f}" for name, mb in s6.items() if mb is not None) + " MB", "", "", ""))
    s7 = results.get("pause_to_quiet")
    if s7:
        out.append((f"7. Pause to quiet, {s7['contacts']:,} dispatch",
                    f"p50 {s7['latency_p50_seconds']:.2f} s, p99 {s7['latency_p99_seconds']:.2f} s "
                    f"({s7['pauses']} pauses, {s7['pauses_with_calls_after_ack']} with calls after the answer)",
                    f"pause answered in p50 {_fmt(s7['pause_answer_p50_ms'])} ms", "", "p99 <= 0.2 s"))
    s8 = results.get("sip_load")
    if s8:
        out.extend(_sip_rows(s8))
    s9 = results.get("dnc_import")
    if s9:
        out.extend(_dnc_rows(s9))
    s10 = results.get("screened_dispatch")
    if s10:
        out.append((f"10. Dispatch {s10['contacts']:,}, DNC {s10['dnc_list']['numbers']:,} + hours",
                    f"{_fmt(s10['attempts_per_second_sustained'] or s10['attempts_per_second_overall'])} attempts/s, "
                    f"{_fmt(s10['cpu_ms_per_attempt_total'])} CPU ms/attempt ({_fmt(s10['skipped_dnc'])} skipped dnc)",
                    f"scenario 2: {_fmt(s10['scenario_2_attempts_per_second'])}/s, "
                    f"{_fmt(s10['scenario_2_cpu_ms_per_attempt_total'])} CPU ms/attempt",
                    f"{_pct(s10['ratio_rate_to_scenario_2'])} rate, {_pct(s10['ratio_cpu_to_scenario_2'])} CPU",
                    ">= 80 % rate"))
        claim, check, alone = s10["per_claim"]["claim_statement"], s10["per_claim"]["check_dnc_server"], \
            s10["check_dnc_alone"]
        out.append((f"    {s10['zone_keys']} zone keys, all open",
                    f"per claim: statement {_fmt(claim['mean_ms'])} ms, CheckDnc {_fmt(check['mean_ms'])} ms "
                    f"({_fmt(check['attempts_each'])} numbers)",
                    f"CheckDnc of {alone['numbers']} alone: {_fmt(alone['listed_org_ms'])} ms, "
                    f"empty list {_fmt(alone['empty_list_ms'])} ms", "", ""))
    s11 = results.get("fair_share")
    if s11:
        out.extend(_fair_rows(s11))
    s13 = results.get("event_streams")
    if s13:
        streamed = s13["with"]
        out.append((f"13. Dispatch {s13['contacts']:,} with {s13['streams']} event streams",
                    f"{_fmt(s13['attempts_per_second_with_streams'])} attempts/s "
                    f"({_fmt(streamed.get('streams_ended'))} streams ended, "
                    f"{_fmt(streamed.get('streams_final_counters_equal'))} with the final counters)",
                    f"no stream: {_fmt(s13['attempts_per_second_without_streams'])}/s",
                    _pct(s13["ratio"]), ">= 90 %"))
    return out


def _fair_rows(s11: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    fast, timed = s11["rate_phase"], s11["timing_phase"]
    alone, together, ratio = timed["alone"], timed["together"], timed["ratio_completed"]
    peak, before, during = timed["in_flight_peak_together"], timed["a_in_flight_before"], timed["a_in_flight_during"]

    def small(key: str) -> tuple[str, str, str, str, str]:
        mine, by_itself = together[key], alone[key]
        return (f"    {key.upper()}' {timed['contacts'][key]:,} beside A' (limit {s11['small_program_limits'][key]})",
                f"first call {_fmt(mine['first_call_seconds'])} s, completed in {_fmt(mine['completed_seconds'])} s "
                f"(peak {_fmt(peak.get(key))} in flight)",
                f"alone: first call {_fmt(by_itself['first_call_seconds'])} s, "
                f"completed in {_fmt(by_itself['completed_seconds'])} s",
                f"{_fmt(ratio[key])} x", "<= 1.5 x")

    return [
        (f"11. Fair share: A {fast['contacts']['a']:,}, B {fast['contacts']['b']:,}, C {fast['contacts']['c']:,}",
         f"{_fmt(fast['total_attempts_per_second_together'])} attempts/s, all three while B and C run "
         f"(A alone {_fmt(fast['a_alone_attempts_per_second'])}/s)",
         f"scenario 2: {_fmt(fast['scenario_2_attempts_per_second'])}/s",
         f"{_pct(fast['ratio_rate_to_scenario_2'])} (A alone {_pct(fast['ratio_a_alone_rate_to_scenario_2'])})",
         ">= 90 %"),
        (f"    {s11['channels']} channels; timing: calls of {_fmt(timed['talk_real_seconds'])} s",
         f"A' {timed['contacts']['a']:,} in flight: {_fmt(before and before['mean'])} before, "
         f"{_fmt(during and during['mean'])} (least {_fmt(during and during['least'])}) beside B' and C'",
         "", "", ""),
        small("b"),
        small("c"),
    ]


def _dnc_rows(s9: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    small, large = s9["small"], s9["large"]

    def peaks(run: dict[str, Any]) -> str:
        return ", ".join(f"{name} {mb:.0f} MB" for name, mb in run["peak_rss_mb"].items() if mb is not None)

    return [
        (f"9. DNC import {large['numbers']:,} numbers (CSV)",
         f"{large['seconds']:.1f} s = {_fmt(large['numbers_per_second'])} numbers/s "
         f"({large['file_mb']} MB; CPU s: " + ", ".join(f"{k} {_fmt(v)}" for k, v in large["cpu_seconds"].items())
         + ")", "", "", ">= 100,000/s"),
        ("   peak RSS during the import", f"{large['numbers']:,}: {peaks(large)}",
         f"{small['numbers']:,}: {peaks(small)}", "", "flat in the file's size"),
    ]


def _sip_rows(s8: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    left = s8["open_at_end"]
    cpu = s8["dialer_cpu_seconds"]
    answered = s8["outcomes"].get("answered", 0)
    return [
        (f"8. SIP carrier load, {s8['contacts']:,} calls",
         f"{_fmt(s8['peak_answered_calls'])} answered calls at once; set-up {_fmt(s8['ramp_answers_per_second'])}/s "
         f"over the first {_fmt(s8['ramp_calls'])}, then {_fmt(s8['steady_answers_per_second'])}/s",
         f"{s8['sip_max_calls']} lines ({s8['line_workers']} workers); "
         f"SIPp: peak {_fmt(s8['sipp_peak_current_calls'])} open, "
         f"most {_fmt(s8['sipp_max_calls_received_in_one_second'])} INVITEs in 1 s", "", ">= 200 calls, >= 50/s"),
        (f"   CARRIER=sip, 1 dialer, far end {s8['far_end']['talk_ms'] // 1000} s",
         f"dialer {_fmt(s8['dialer_cpu_ms_per_call_second'])} CPU ms per call-second "
         f"(dialer {_fmt(cpu['dialer'])} s + lines {_fmt(cpu['line_workers'])} s), peak "
         f"{_fmt(s8['dialer_peak_cores'])} cores",
         f"digit branch {_fmt(s8['digit_branch_calls'])} of {_fmt(answered)} answered; "
         f"{_fmt(s8['rtp_packets_per_call_second'])} RTP packets per call-second", "", ""),
        ("", f"SIPp failed {_fmt(s8['sipp_failed'])}, dead-call msgs {_fmt(s8['sipp_dead_call_msgs'])}; "
             f"left open {_fmt(left['sipp_current_calls'])}/{_fmt(left['contacts_in_progress'])}/"
             f"{_fmt(left['dialer_open_records'])} (SIPp/contacts/records); not answered {_fmt(s8['contacts'] - answered)}",
         f"SIPp received {_fmt(s8['sipp_calls_received'])}", "", "0, 0; 0/0/0; 0"),
    ]


def table(results: dict[str, Any]) -> str:
    header = ("scenario", "Outbound", "raw limit (same run)", "ratio", "target")
    body = rows(results)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(r: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])
