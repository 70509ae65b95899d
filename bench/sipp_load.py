"""SIPp in load mode as the far end of scenario 8: one UAS on free loopback ports that answers
every call Outbound places, with its statistics written every second (`-trace_stat`).

The scenario (bench/sipp/uas_load.xml) rings, answers after `answer_after_ms`, sends the RFC 4733
digit 1 `digit_after_ms` after the ACK and hangs up `talk_ms` after the ACK. SIPp stops by itself
after `calls` calls; its own counts (received, successful, failed, dead-call messages, calls still
open) are what the scenario reports as the far end's view.
"""

from __future__ import annotations

import csv
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.sipp import PCAPS, free_media_port, free_udp_port, sipp_binary

SCENARIO = Path(__file__).resolve().parent / "sipp" / "uas_load.xml"
QUIT_WAIT_SECONDS = 10.0  # after SIGUSR1 (SIPp's soft quit), before the process is killed
# SIPp's cap on open calls (-l): far above any line count here, and below the open-file limit
# SIPp checks it against (it warns when the cap plus its sockets could pass that limit).
OPEN_CALLS_LIMIT = 5000


@dataclass(frozen=True)
class FarEndTimes:
    answer_after_ms: int = 1000
    digit_after_ms: int = 500
    talk_ms: int = 20_000  # from the ACK to SIPp's BYE


@dataclass(frozen=True)
class SippSample:
    """One line of SIPp's statistics file; counts are cumulative since its start."""

    at: float  # epoch seconds (SIPp's CurrentTime)
    incoming: int  # calls received
    current: int  # calls open in SIPp (ringing or answered)
    successful: int
    failed: int
    dead_call_msgs: int  # messages for calls SIPp had already ended
    out_of_call_msgs: int
    retransmissions: int
    auto_answered: int


def _epoch(field: str) -> float:
    # "2026-12-06\t20:16:01.929801\t1796588161.929801": the last part is the epoch.
    return float(field.split("\t")[-1])


def read_samples(path: Path) -> list[SippSample]:
    """Every line of a `-trace_stat` file written so far (an incomplete last line is left out)."""
    if not path.exists():
        return []
    out = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter=";"):
            try:
                out.append(SippSample(
                    at=_epoch(row["CurrentTime"]), incoming=int(row["IncomingCall(C)"]),
                    current=int(row["CurrentCall"]), successful=int(row["SuccessfulCall(C)"]),
                    failed=int(row["FailedCall(C)"]), dead_call_msgs=int(row["DeadCallMsgs(C)"]),
                    out_of_call_msgs=int(row["OutOfCallMsgs(C)"]), retransmissions=int(row["Retransmissions(C)"]),
                    auto_answered=int(row["AutoAnswered(C)"])))
            except (KeyError, TypeError, ValueError):
                continue
    return out


class SippLoad:
    """start(), then finish() for the last statistics line; stop() always."""

    def __init__(self, workdir: Path, calls: int, times: FarEndTimes = FarEndTimes()):
        self.workdir = workdir
        self.calls = calls
        self.times = times
        self.port = free_udp_port()
        self.media_port = free_media_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.stat_file = workdir / "sipp-stat.csv"
        self.screen_file = workdir / "sipp-screen.log"
        self.error_file = workdir / "sipp-errors.log"

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port};transport=udp"

    def _scenario(self) -> Path:
        t = self.times
        rest = t.talk_ms - t.digit_after_ms
        if rest < 0:
            raise ValueError("the digit must come before the far end hangs up")
        text = SCENARIO.read_text()
        for key, value in (("ANSWER_AFTER_MS", t.answer_after_ms), ("DIGIT_AFTER_MS", t.digit_after_ms),
                           ("REST_MS", rest), ("PCAPS", PCAPS)):
            text = text.replace(key, str(value))
        path = self.workdir / "uas_load.xml"
        path.write_text(text)
        return path

    def start(self) -> SippLoad:
        self.workdir.mkdir(parents=True, exist_ok=True)
        scenario = self._scenario()
        self.process = subprocess.Popen(
            [sipp_binary(), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port), "-t", "u1",
             "-mi", "127.0.0.1", "-mp", str(self.media_port), "-m", str(self.calls), "-nostdin",
             # No cap on open calls (the UAS takes what comes); requests outside the scenario
             # (OPTIONS, UPDATE, INFO) are answered 200 and counted, not failed.
             "-l", str(OPEN_CALLS_LIMIT), "-aa",
             "-trace_stat", "-stf", str(self.stat_file), "-fd", "1",
             "-trace_err", "-error_file", str(self.error_file),
             "-trace_screen", "-screen_file", str(self.screen_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir)
        return self

    def samples(self) -> list[SippSample]:
        return read_samples(self.stat_file)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def finish(self, timeout: float) -> int | None:
        """Wait for SIPp to stop after its `calls` calls; past `timeout`, ask it to quit (SIGUSR1),
        then kill it. Answers its exit code (None when it had to be killed)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.process.send_signal(signal.SIGUSR1)
        try:
            return self.process.wait(timeout=QUIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def media_packets_dropped(self) -> int | None:
        """Datagrams the kernel dropped at SIPp's media socket (/proc/net/udp `drops`). SIPp never
        reads that socket (no -rtp_echo), so once its buffer is full every RTP packet Outbound
        sends is dropped there: the count shows the prompts flowing. None once SIPp has closed it."""
        local = f"0100007F:{self.media_port:04X}"  # 127.0.0.1, as /proc/net/udp writes it
        try:
            with open("/proc/net/udp") as table:
                for line in table:
                    fields = line.split()
                    if len(fields) > 12 and fields[1] == local:
                        return int(fields[-1])
        except OSError:
            return None
        return None

    def errors(self, limit: int = 2000) -> str:
        text = self.error_file.read_text(errors="replace") if self.error_file.exists() else ""
        return text[-limit:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
