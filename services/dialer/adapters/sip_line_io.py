"""The protocol of a SIP line worker (adapters.sip_line) with the pool that drives it
(adapters.sip_pool): JSON lines on the worker's stdin and stdout, one object per line.

  stdin:  the configuration first (`Config`), then {"cmd": "place", ...} and {"cmd": "stop", "id"?}
  stdout: {"event": "ready", "host", "port", "capture_dir"} once, then one {"event": "ended", ...} per
          placed call (`capture_dir`: the worker's temporary directory, removed by the pool once the
          worker has exited, however it ended)

Stdin is read on the worker's main thread (adapters.sip_line says why no second thread may
run): `Stdin.poll` never blocks, and `Stdin.wait` is the sleep of a worker with no call, which
ends at the first byte of a command. Neither raises on the normal path: `select` says whether
bytes wait, and the end of input is a flag (`closed`). Only the protocol writes to the real
stdout (`claim_stdout`), so PJSIP's console log never mixes with it.
"""

from __future__ import annotations

import json
import os
import select
from dataclasses import dataclass
from typing import Any

_CHUNK = 65536


@dataclass
class Config:
    host: str
    port: int
    public_addr: str | None
    rtp_lo: int
    rtp_hi: int
    trunks: list[dict[str, Any]]  # name, hostport, transport, username, password


_out_fd = 1


def claim_stdout() -> None:
    """JSON goes to a private copy of stdout from now on; fd 1 becomes stderr, so whatever a
    library prints there (PJSIP's console log) lands in the log, never in the protocol."""
    global _out_fd
    _out_fd = os.dup(1)
    os.dup2(2, 1)


_reader_gone = False


def emit(obj: dict[str, Any]) -> None:
    """One report to the carrier. Once the carrier is gone (its dialer killed), reports are
    dropped: the worker still ends its calls (BYE, retransmitted as needed) before exiting."""
    global _reader_gone
    if _reader_gone:
        return
    try:
        os.write(_out_fd, (json.dumps(obj) + "\n").encode())
    except BrokenPipeError:
        _reader_gone = True


class Stdin:
    """JSON lines from fd 0, read on the main thread without blocking it (`closed` at the end)."""

    def __init__(self) -> None:
        self.buffer, self.closed = b"", False

    def first(self) -> str:
        """The first line (the configuration), waiting for it; "" at end of input."""
        while b"\n" not in self.buffer and (chunk := os.read(0, _CHUNK)):
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def wait(self, seconds: float) -> None:
        """Sleeps until input arrives (a command, or the end of input), at most `seconds`.
        Answers at once when the input is already over or a whole line is buffered."""
        if self.closed or b"\n" in self.buffer:
            return
        select.select([0], [], [], seconds)

    def poll(self) -> list[dict[str, Any]]:
        """The commands that arrived since the last call."""
        while not self.closed and select.select([0], [], [], 0)[0]:
            chunk = os.read(0, _CHUNK)
            self.closed, self.buffer = not chunk, self.buffer + chunk
            if len(chunk) < _CHUNK:
                break
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(raw) for raw in lines if raw.strip()]
