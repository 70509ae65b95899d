"""A SIP line worker: one pjsua2 endpoint placing up to LINES calls (`python -m
services.dialer.adapters.sip_line`), driven by the SIP carrier (adapters.sip_carrier).

PJSIP does the SIP transactions, digest auth, session timers, CANCEL, REFER, INFO, RTP, G.711,
RFC 4733 and WAV playback in C; this process only decides. Every pjsua call comes from the main
thread (threadCnt 0, RTP polled by the SIP ioqueue, libHandleEvents in the loop, stdin read there
too): the wheel releases the GIL inside pjsua, so a second Python thread could run a garbage
collection that destroys pjsua objects under the main thread's feet. Callbacks note what
happened and the loop acts on it. Protocol, one JSON object per line:

  stdin:  the configuration first (`Config`), then {"cmd": "place", ...} and {"cmd": "stop", "id"?}
  stdout: {"event": "ready", "host", "port"} once, then one {"event": "ended", ...} per placed call

Ownership: `Worker.calls` is the only holder of a Line (its walk drives it; notes name it by id;
no loop variable keeps one). A call is over for us when pjsua reports it DISCONNECTED, and the
same loop step that handles that note destroys the Line, before any other INVITE can leave:
pjsua hands out call slots in turn, and pjsua2's `~Call` hangs up whatever call holds its slot
when it runs, so a Line that outlived its call would end a later one. End of stdin stops every
call (BYE, or CANCEL before answer) and the worker exits once they have ended.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import os
import select
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from services.dialer.adapters.sip_call import Line, Note, Report, log
from services.dialer.adapters.sip_flow import FlowWalk, Step
from services.dialer.adapters.sip_pool import LINES

TICK_MS = 10
EXIT_WAIT_SECONDS = 10.0  # after end of stdin, the longest wait for calls to end before exiting
GC_EVERY_SECONDS = 10.0  # the cyclic collector runs here, between steps, never on its own


@dataclass
class Config:
    host: str
    port: int
    public_addr: str | None
    rtp_lo: int
    rtp_hi: int
    trunks: list[dict[str, Any]]  # name, hostport, transport, username, password


_out_fd = 1


def emit(obj: dict[str, Any]) -> None:
    os.write(_out_fd, (json.dumps(obj) + "\n").encode())


class Stdin:
    """JSON lines from fd 0, read on the main thread without blocking it (`closed` at the end)."""

    def __init__(self) -> None:
        self.buffer, self.closed = b"", False

    def first(self) -> str:
        """The first line (the configuration), waiting for it; "" at end of input."""
        while b"\n" not in self.buffer and (chunk := os.read(0, 65536)):
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def poll(self) -> list[dict[str, Any]]:
        """The commands that arrived since the last call."""
        while not self.closed and select.select([0], [], [], 0)[0]:
            chunk = os.read(0, 65536)
            self.closed, self.buffer = not chunk, self.buffer + chunk
            if len(chunk) < 65536:
                break
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(raw) for raw in lines if raw.strip()]


@dataclass
class Active:
    """A call under way: its Line and the flow walk that drives it (the Line never sees the walk)."""

    line: Line
    walk: FlowWalk


class Worker:
    def __init__(self, config: Config, stdin: Stdin):
        self.config = config
        self.stdin = stdin
        self.ep = pj.Endpoint()
        self.accounts: dict[str, tuple[pj.Account, dict[str, Any]]] = {}
        self.calls: dict[str, Active] = {}
        self.notes: list[Note] = []
        self.host = config.host

    def start(self) -> None:
        cfg = self.config
        self.ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0
        ep_cfg.uaConfig.mainThreadOnly = True
        ep_cfg.uaConfig.maxCalls = LINES
        ep_cfg.uaConfig.userAgent = "Outbound"
        ep_cfg.medConfig.clockRate = 8000
        ep_cfg.medConfig.sndClockRate = 8000
        ep_cfg.medConfig.hasIoqueue = False  # RTP (and so RFC 4733 digits) on the main thread
        ep_cfg.medConfig.threadCnt = 0
        ep_cfg.medConfig.noVad = True
        ep_cfg.logConfig.level = 2
        ep_cfg.logConfig.consoleLevel = 2
        self.ep.libInit(ep_cfg)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = cfg.host
        tcfg.port = cfg.port
        if cfg.public_addr:
            tcfg.publicAddress = cfg.public_addr
        wants_tcp = any(t["transport"] == "tcp" for t in cfg.trunks)
        for tries_left in range(20, -1, -1):
            tcfg.port = cfg.port
            udp = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
            self.host, port = self.ep.transportGetInfo(udp).localName.rsplit(":", 1)
            if not wants_tcp:
                break
            tcfg.port = int(port)
            try:
                self.ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
                break
            except pj.Error:
                # Any free UDP port was taken; its TCP twin may be busy: take another pair.
                if cfg.port or not tries_left:
                    raise
                self.ep.transportClose(udp)
        self.ep.audDevManager().setNullDev()
        self.ep.libStart()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 0)
        self.ep.codecSetPriority("PCMU/8000", 255)
        self.ep.codecSetPriority("PCMA/8000", 254)
        for trunk in cfg.trunks:
            self.accounts[trunk["name"]] = (self._account(trunk), trunk)
        emit({"event": "ready", "host": self.host, "port": int(port)})

    def _account(self, trunk: dict[str, Any]) -> pj.Account:
        cfg = self.config
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:outbound@{self.host}"
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL  # honoured when the far end asks
        acfg.callConfig.prackUse = pj.PJSUA_100REL_NOT_USED
        if trunk.get("username"):
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", trunk["username"], 0, trunk["password"]))
        media = acfg.mediaConfig.transportConfig
        media.boundAddress = cfg.host
        if cfg.public_addr:
            media.publicAddress = cfg.public_addr
        media.port = cfg.rtp_lo
        media.portRange = cfg.rtp_hi - cfg.rtp_lo
        account = pj.Account()
        account.create(acfg)
        return account

    def place(self, cmd: dict[str, Any]) -> None:
        now = time.monotonic()
        report = Report(id=cmd["id"], invited_at=now)
        found = self.accounts.get(cmd["trunk"])
        if found is None or len(self.calls) >= LINES:
            report.local_error, report.ended_at = True, now
            report.error = "unknown trunk" if found is None else "no free line"
            emit({"event": "ended", **report.__dict__})
            return
        account, trunk = found
        flow = cmd.get("flow") or {}
        steps = {s["id"]: Step.from_json(s) for s in flow.get("steps", [])}
        line = Line(self.notes, account, report, now + float(cmd["ring_timeout"]), trunk["hostport"])
        prm = pj.CallOpParam(True)
        caller = f"sip:{cmd['did']}@{self.host}"
        prm.txOption.localUri = caller  # From, per call; the account's own URI is never used
        pai = pj.SipHeader()
        pai.hName, pai.hValue = "P-Asserted-Identity", f"<{caller}>"
        prm.txOption.headers.append(pai)
        uri = f"sip:{cmd['number']}@{trunk['hostport']};transport={trunk['transport']}"
        try:
            line.makeCall(uri, prm)
        except pj.Error as exc:
            # Refused before anything was sent: pjsua took no slot, the Line goes at once.
            report.local_error, report.ended_at, report.error = True, time.monotonic(), exc.info()
            del line
            emit({"event": "ended", **report.__dict__})
            return
        self.calls[report.id] = Active(line, FlowWalk(flow.get("start", ""), steps, line))

    def stop(self, call_id: str | None) -> None:
        for key in [k for k in self.calls if call_id is None or k == call_id]:
            active = self.calls[key]
            active.walk.stop()
            active.line.stop_playing()
            active.line.hang_up()

    def settle(self, now: float) -> None:
        """Acts on every note, including those the acting itself adds (a hangup may end a call
        at once). Run after every step that can call into pjsua, so a Line whose call ended is
        gone before the next makeCall."""
        while self.notes:
            notes = self.notes[:]  # the Lines hold this very list: emptied in place
            self.notes.clear()
            for call_id, kind, arg in notes:
                self._settle(call_id, kind, arg, now)

    def _settle(self, call_id: str, kind: str, arg: object, now: float) -> None:
        if kind == "disconnected":
            self._ended(call_id, now)
            return
        active = self.calls.get(call_id)
        if active is None:
            return
        report = active.line.report
        if kind == "answered" and not report.answered:
            report.answered, report.answered_at = True, now
            if active.line.hung_up:  # a 200 crossed our CANCEL: the far end picked up, we leave at once
                active.line.hung_up = False
                active.line.hang_up()
            else:
                active.walk.begin(now)
        elif kind == "digit" and isinstance(arg, str):
            active.walk.digit(arg, now)
        elif kind == "transfer" and isinstance(arg, tuple):
            active.walk.transfer_status(arg[0], arg[1], now)

    def _ended(self, call_id: str, now: float) -> None:
        """The call is DISCONNECTED: report it and destroy its Line now, in this step."""
        active = self.calls.pop(call_id, None)
        if active is None:
            return
        active.walk.stop()
        report = active.line.report
        report.ended_at = now
        report.node_ids = list(active.walk.executed)
        if report.answered and report.sip_code is None:
            report.sip_code = 200
        active.line.release()
        gone = weakref.ref(active.line)
        del active  # the only reference: ~Call runs here, while its slot is still free
        if gone() is not None:
            gc.collect()
            if gone() is not None:  # a reference leak: it would hang up a later call in its slot
                log(f"call {call_id}: its Line outlived the call ({sys.getrefcount(gone()) - 1} references)")
        emit({"event": "ended", **report.__dict__})

    def _tick(self, call_id: str, now: float) -> None:
        active = self.calls.get(call_id)
        if active is None:
            return
        line = active.line
        if not line.report.answered and not line.hung_up and now >= line.ring_deadline:
            line.hang_up()  # ring timeout: CANCEL
        elif line.report.answered:
            active.walk.tick(now)

    def run(self) -> None:
        self._loop()
        # Every Call and player must be gone before the library is.
        self.calls.clear()
        self.notes.clear()
        self.accounts.clear()
        gc.collect()
        self.ep.libDestroy()

    def _loop(self) -> None:
        closed_at: float | None = None
        collected_at = time.monotonic()
        while True:
            self.ep.libHandleEvents(TICK_MS)
            now = time.monotonic()
            self.settle(now)
            for cmd in self.stdin.poll():
                if cmd.get("cmd") == "place" and closed_at is None:
                    self.place(cmd)
                elif cmd.get("cmd") == "stop":
                    self.stop(cmd.get("id"))
                self.settle(now)
            if self.stdin.closed and closed_at is None:
                closed_at = now
                self.stop(None)
                self.settle(now)
            for call_id in list(self.calls):
                self._tick(call_id, now)
            self.settle(now)
            if closed_at is not None and (not self.calls or now - closed_at > EXIT_WAIT_SECONDS):
                return
            if now - collected_at > GC_EVERY_SECONDS:
                gc.collect()
                collected_at = now


def main() -> None:
    global _out_fd
    # JSON goes to a private copy of stdout; fd 1 becomes stderr, so PJSIP's console log never
    # mixes with the protocol.
    _out_fd = os.dup(1)
    os.dup2(2, 1)
    faulthandler.enable(all_threads=True)  # a crash inside pjsua leaves its Python stack on stderr
    gc.disable()  # collections happen in the loop, between steps, never inside a pjsua callback
    stdin = Stdin()
    first = stdin.first()
    if not first:
        return
    worker = Worker(Config(**json.loads(first)), stdin)
    worker.start()
    worker.run()


if __name__ == "__main__":
    main()
