"""SIPp (Debian sip-tester) as the far end of the SIP carrier's tests, on free loopback ports.

A scenario of tests/sipp/ is written out with its placeholders filled (CALLER_ID, CALLEE, DIGIT,
TRANSFER_TO, ...; NAME_RE is NAME's value as a regexp literal), so the scenario itself checks the caller ID and the Request-URI with
`<ereg check_it="true">`: SIPp fails the call otherwise. What a scenario's `<log>` actions write
is read back with `log()`; `finish()` ends a far end whose number of calls the test does not know
in advance. A missing `sipp` fails the test with what to install; it is never skipped.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from outbound_cli.devservers import free_port

SCENARIOS = Path(__file__).resolve().parent.parent / "sipp"
PCAPS = Path("/usr/share/sip-tester")


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if found is None:
        raise AssertionError("SIPp is missing: install the Debian package sip-tester (`make tools` does it as root)")
    return found


def free_udp_port() -> int:
    # From the test worker's own range, like every server's port: a port the kernel picks for
    # port 0 may be taken by any process's short-lived UDP socket before SIPp binds it.
    return free_port(socket.SOCK_DGRAM)


def free_media_port() -> int:
    """An even port with the three above it: SIPp's RTP echo binds it and +2, and +1 and +3 are
    their RTCP ports by convention. Even, as RFC 3550 asks of RTP: with a far end on an odd
    port, pjsua in the line workers was seen to crash now and then."""
    first = free_port(socket.SOCK_DGRAM, span=5)  # five free ones hold an even port and its three
    return first + first % 2


def regex_escape(value: str) -> str:
    """A literal for a POSIX extended regexp inside an XML attribute."""
    return re.sub(r"([\\.+*?\[\](){}|^$])", r"\\\1", value)


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    errors: str
    created: int = 0  # calls SIPp received (its "Incoming calls created")

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


class Sipp:
    """One SIPp UAS: start(), then wait() for its result; stop() always (kills if still running)."""

    def __init__(self, scenario: str, workdir: Path, *, calls: int = 1, transport: str = "u1",
                 timeout: str = "60s", extra_args: Sequence[str] = (),
                 **placeholders: str | Callable[[Sipp], str]):
        self.scenario = scenario
        self.workdir = workdir
        self.calls = calls
        self.transport = transport
        self.timeout = timeout  # SIPp's own: it stops (and fails) once it has run this long
        self.extra_args = list(extra_args)  # e.g. an injection file: -inf PATH -infindex NAME 0
        self.placeholders = placeholders
        self.port = free_port(socket.SOCK_STREAM if transport.startswith("t") else socket.SOCK_DGRAM)
        self.process: subprocess.Popen[bytes] | None = None
        self.name = f"{scenario}-{self.port}"

    @property
    def uri(self) -> str:
        transport = "tcp" if self.transport.startswith("t") else "udp"
        return f"sip:127.0.0.1:{self.port};transport={transport}"

    def _write_scenario(self) -> Path:
        text = (SCENARIOS / f"{self.scenario}.xml").read_text()
        for key, given in self.placeholders.items():
            # A callable value is computed from this SIPp (its port is known by now).
            value = given(self) if callable(given) else given
            text = text.replace(f"{key}_RE", regex_escape(value)).replace(key, value)
        text = text.replace("PCAPS", str(PCAPS))
        path = self.workdir / f"{self.name}.xml"
        path.write_text(text)
        return path

    def start(self) -> Sipp:
        binary = sipp_binary()
        scenario = self._write_scenario()
        self.process = subprocess.Popen(
            [binary, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port), "-t", self.transport,
             "-mi", "127.0.0.1", "-mp", str(free_media_port()), "-m", str(self.calls), "-nostdin",
             "-timeout", self.timeout, "-timeout_error", *self.extra_args,
             "-trace_logs", "-log_file", str(self.workdir / f"{self.name}.logs.log"),
             "-trace_err", "-error_file", str(self.workdir / f"{self.name}.errors.log"),
             "-trace_screen", "-screen_file", str(self.workdir / f"{self.name}.screen.log"),
             "-trace_msg", "-message_file", str(self.workdir / f"{self.name}.messages.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.workdir)
        self._await_listening()
        return self

    def _await_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"SIPp exited at start ({self.process.returncode}): {self._stderr()}")
            if self._bound():
                return
            time.sleep(0.02)
        raise AssertionError(f"SIPp did not listen on 127.0.0.1:{self.port}")

    def _bound(self) -> bool:
        kind = socket.SOCK_STREAM if self.transport.startswith("t") else socket.SOCK_DGRAM
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    def _stderr(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def wait(self, timeout: float = 30.0) -> SippResult:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"SIPp {self.scenario} still running after {timeout}s:\n{self.messages()}") from None
        screen = self._read("screen.log")
        return SippResult(code, _count(screen, "Successful call"), _count(screen, "Failed call"),
                          self._read("errors.log"), _count(screen, "Incoming calls created"))

    def finish(self, timeout: float = 30.0) -> SippResult:
        """SIPp's graceful exit (SIGUSR1): no new call is taken, calls under way end, then its result."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
        return self.wait(timeout)

    def log(self) -> list[str]:
        """The lines the scenario's `<log>` actions wrote, in order."""
        return [line for line in self._read("logs.log").splitlines() if line.strip()]

    def messages(self) -> str:
        return self._read("messages.log")[-6000:]

    def _read(self, suffix: str) -> str:
        path = self.workdir / f"{self.name}.{suffix}"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _count(screen: str, label: str) -> int:
    """The cumulative count of a statistics line (`Successful call | 0 | 1`) on the last screen."""
    found = re.findall(rf"{label}\s*\|\s*(\d+)\s*\|\s*(\d+)", screen)
    return int(found[-1][1]) if found else 0
