"""The pool of SIP line workers of one dialer replica (adapters.sip_line processes).

The pjsua2 build holds at most LINES calls per process, so a replica runs ceil(max_calls /
LINES) workers, each on its own SIP port (SIP_BIND's port + i, or any free port for 0) and its
own slice of RTP_PORTS. A call takes a free line (waiting while none is free) and gets exactly
one `ended` report back. A worker that dies ends its calls as transport errors and is started
again; the pool never loses a waiting caller. A call refused on our own host (no line, the
worker unreachable, makeCall refused) is reported `local_error`: nothing reached the trunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from services.dialer.domain.trunks import Address, Trunk, TrunkConfigError

log = logging.getLogger(__name__)

LINES = 4  # calls per worker: the pjsua2 wheel's build refuses a 5th (PJ_ETOOMANY)
READY_TIMEOUT_SECONDS = 20.0
EXIT_TIMEOUT_SECONDS = 15.0  # a worker told to stop ends its calls first (BYE / CANCEL)
PORTS_PER_LINE = 2  # RTP even, RTCP odd


@dataclass(frozen=True)
class Ended:
    """A worker's report of one call; instants are time.monotonic() seconds (system-wide)."""

    id: str
    sip_code: int | None
    reason: str
    we_cancelled: bool
    answered: bool
    answered_at: float | None
    ended_at: float
    node_ids: list[str]
    responded: bool
    transport_error: bool
    error: str = ""
    local_error: bool = False  # refused on our host before any INVITE left: no trunk is to blame
    lost: bool = False  # the worker died (or was unreachable): what happened on the wire is unknown
    # What answering-machine detection decided: {"result", "decision_ms", "features"}; None: nothing.
    amd: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Ended:
        return cls(id=raw["id"], sip_code=raw.get("sip_code"), reason=raw.get("reason") or "",
                   we_cancelled=bool(raw.get("we_cancelled")), answered=bool(raw.get("answered")),
                   answered_at=raw.get("answered_at"), ended_at=float(raw.get("ended_at") or time.monotonic()),
                   node_ids=list(raw.get("node_ids") or []), responded=bool(raw.get("responded")),
                   transport_error=bool(raw.get("transport_error")), error=raw.get("error") or "",
                   local_error=bool(raw.get("local_error")), amd=raw.get("amd") or None)

    @classmethod
    def vanished(cls, call_id: str, error: str) -> Ended:
        """The report of a call whose worker died: a transport error, nothing known."""
        return cls(call_id, None, "", False, False, None, time.monotonic(), [], False, True, error, lost=True)


def rtp_slices(lo: int, hi: int, workers: int) -> list[tuple[int, int]]:
    """RTP_PORTS split in `workers` even-aligned slices, each enough for LINES calls."""
    size = ((hi - lo) // workers) & ~1
    if size < LINES * PORTS_PER_LINE:
        raise TrunkConfigError(f"RTP_PORTS: {lo}-{hi} gives {size} ports to each of {workers} line workers; "
                               f"each needs {LINES * PORTS_PER_LINE}")
    return [(lo + i * size, lo + (i + 1) * size) for i in range(workers)]


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    reader: asyncio.Task[None] | None = None
    calls: dict[str, asyncio.Future[Ended]] = field(default_factory=dict)
    host: str = ""
    port: int = 0
    capture_dir: str = ""  # the worker's temporary directory (answering-machine capture files)


class LinePool:
    def __init__(self, workers: int, bind: Address, public_addr: str | None, rtp: tuple[int, int],
                 trunks: tuple[Trunk, ...]):
        self.bind = bind
        self.public_addr = public_addr
        self.slices = rtp_slices(rtp[0], rtp[1], workers)
        self.trunks = trunks
        self.workers = [_Worker(i) for i in range(workers)]
        self._free = asyncio.Semaphore(workers * LINES)
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(w.host, w.port) for w in self.workers]

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn(w) for w in self.workers))

    def _config(self, worker: _Worker) -> dict[str, Any]:
        lo, hi = self.slices[worker.index]
        return {"host": self.bind.host, "port": self.bind.port + worker.index if self.bind.port else 0,
                "public_addr": self.public_addr, "rtp_lo": lo, "rtp_hi": hi,
                "trunks": [{"name": t.name, "hostport": t.hostport, "transport": t.transport,
                            "username": t.username, "password": t.password} for t in self.trunks]}

    async def _spawn(self, worker: _Worker) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.dialer.adapters.sip_line",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20)
        assert process.stdin is not None and process.stdout is not None
        # Credentials travel on stdin, never on the command line.
        process.stdin.write((json.dumps(self._config(worker)) + "\n").encode())
        await process.stdin.drain()
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_SECONDS)
            ready = json.loads(line) if line else {}
        except (TimeoutError, ValueError):
            ready = {}
        if ready.get("event") != "ready":
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise RuntimeError(f"SIP line worker {worker.index} did not start (SIP_BIND {self.bind.host}:"
                               f"{self._config(worker)['port']}, exit {process.returncode})")
        worker.process, worker.host, worker.port = process, ready["host"], int(ready["port"])
        worker.capture_dir = str(ready.get("capture_dir") or "")
        worker.reader = asyncio.create_task(self._read(worker, process))

    async def _read(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while line := await process.stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "ended":
                future = worker.calls.pop(event.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(Ended.from_json(event))
                self._note_idle()
        code = await process.wait()
        if worker.capture_dir:  # a worker killed mid-call leaves its capture files behind
            shutil.rmtree(worker.capture_dir, ignore_errors=True)
        lost, worker.calls = worker.calls, {}
        for call_id, future in lost.items():
            if not future.done():
                future.set_result(Ended.vanished(call_id, f"line worker exited with {code}"))
        self._note_idle()
        if not self._closing:
            log.warning("SIP line worker exited; starting it again", extra={"worker": worker.index, "code": code})
            while not self._closing:
                try:
                    await self._spawn(worker)
                    return
                except Exception:
                    log.exception("SIP line worker restart failed", extra={"worker": worker.index})
                    await asyncio.sleep(1.0)

    async def call(self, command: dict[str, Any], sent: asyncio.Event | None = None,
                   ready: Callable[[], Awaitable[None]] | None = None) -> Ended:
        """Place a call on a free line (waiting for one) and answer its report. `ready` runs once a
        line is free, before the command leaves (it may raise to give the line back unused);
        `sent` is set when the command has left for the worker. Cancelled: the worker is told to
        end the call."""
        async with self._free:
            if ready is not None:
                await ready()
            worker = self._least_busy()
            while len(worker.calls) >= LINES:  # a worker restarting holds back its share for a moment
                await asyncio.sleep(0.05)
                worker = self._least_busy()
            future: asyncio.Future[Ended] = asyncio.get_running_loop().create_future()
            call_id = command["id"]
            worker.calls[call_id] = future
            self._idle.clear()
            if not self._send(worker, {"cmd": "place", **command}):
                worker.calls.pop(call_id, None)
                self._note_idle()
                return Ended(call_id, None, "", False, False, None, time.monotonic(), [], False, False,
                             "line worker unavailable", local_error=True)
            if sent is not None:
                sent.set()
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                self._send(worker, {"cmd": "stop", "id": call_id})
                raise

    def _least_busy(self) -> _Worker:
        running = [w for w in self.workers if w.process is not None and w.process.returncode is None]
        return min(running or self.workers, key=lambda w: len(w.calls))

    def _send(self, worker: _Worker, message: dict[str, Any]) -> bool:
        process = worker.process
        if process is None or process.stdin is None or process.returncode is not None:
            return False
        try:
            process.stdin.write((json.dumps(message) + "\n").encode())
        except (ConnectionError, RuntimeError):
            return False
        return True

    def busy(self) -> int:
        return sum(len(w.calls) for w in self.workers)

    def _note_idle(self) -> None:
        if not self.busy():
            self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """True once no call is under way; False when `timeout` seconds passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), max(0.0, timeout))
        except TimeoutError:
            return False
        return True

    def stop_all(self) -> None:
        """Every call under way ends now: BYE when answered, CANCEL before."""
        for worker in self.workers:
            self._send(worker, {"cmd": "stop"})

    async def close(self) -> None:
        """End every call, then the workers (end of stdin; killed if they outstay EXIT_TIMEOUT)."""
        self._closing = True
        for worker in self.workers:
            process = worker.process
            if process is None or process.stdin is None:
                continue
            with contextlib.suppress(Exception):
                process.stdin.close()
        for worker in self.workers:
            process = worker.process
            if process is None:
                continue
            try:
                await asyncio.wait_for(process.wait(), EXIT_TIMEOUT_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
            if worker.reader is not None:
                with contextlib.suppress(Exception):
                    await worker.reader
