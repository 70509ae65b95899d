"""A SIP line worker: one pjsua2 endpoint placing up to LINES calls (`python -m
services.dialer.adapters.sip_line`), driven by the SIP carrier (adapters.sip_carrier).

PJSIP does the SIP transactions, digest auth, session timers, CANCEL, REFER, INFO, RTP, G.711,
RFC 4733 and WAV playback in C; this process only decides. Every pjsua call comes from the main
thread (threadCnt 0, RTP polled by the SIP ioqueue, libHandleEvents in the loop), so callbacks
only note what happened and the loop acts on it. Protocol, one JSON object per line:

  stdin:  the configuration first (`Config`), then {"cmd": "place", ...} and {"cmd": "stop", "id"?}
  stdout: {"event": "ready", "host", "port"} once, then one {"event": "ended", ...} per placed call

A call is over for us when pjsua reports it DISCONNECTED; its Call object is kept until then and
dropped from the loop afterwards (pjsua2 asserts when a Call outlives its call). End of stdin
stops every call (BYE, or CANCEL before answer) and the worker exits once they have ended.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import pjsua2 as pj

from services.dialer.adapters.sip_call import Idle, Line, Note, Report
from services.dialer.adapters.sip_flow import FlowWalk, Step
from services.dialer.adapters.sip_pool import LINES

TICK_MS = 10
EXIT_WAIT_SECONDS = 10.0  # after end of stdin, the longest wait for calls to end before exiting


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


class Worker:
    def __init__(self, config: Config):
        self.config = config
        self.ep = pj.Endpoint()
        self.accounts: dict[str, tuple[pj.Account, dict[str, Any]]] = {}
        self.lines: dict[str, Line] = {}
        self.notes: list[Note] = []
        self.commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stdin_closed = False
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
        udp = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        name = self.ep.transportGetInfo(udp).localName
        self.host, port = name.rsplit(":", 1)
        if any(t["transport"] == "tcp" for t in cfg.trunks):
            tcfg.port = int(port)
            self.ep.transportCreate(pj.PJSIP_TRANSPORT_TCP, tcfg)
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
        if found is None or len(self.lines) >= LINES:
            report.transport_error, report.ended_at = True, now
            report.error = "unknown trunk" if found is None else "no free line"
            emit({"event": "ended", **report.__dict__})
            return
        account, trunk = found
        flow = cmd.get("flow") or {}
        steps = {s["id"]: Step.from_json(s) for s in flow.get("steps", [])}
        line = Line(self.notes, account, report, steps, flow.get("start", ""), now + float(cmd["ring_timeout"]),
                    trunk["hostport"])
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
            report.transport_error, report.ended_at, report.error = True, time.monotonic(), exc.info()
            emit({"event": "ended", **report.__dict__})
            return
        self.lines[report.id] = line

    def stop(self, call_id: str | None) -> None:
        for key, line in list(self.lines.items()):
            if call_id is None or key == call_id:
                line.walk.stop()
                line.stop_playing()
                line.hang_up()

    def _settle(self, line: Line, kind: str, arg: object, now: float) -> None:
        report = line.report
        if kind == "answered" and not report.answered and report.id in self.lines:
            report.answered, report.answered_at = True, now
            if line.hung_up:  # a 200 crossed our CANCEL: the far end picked up, we leave at once
                line.hung_up = False
                line.hang_up()
            else:
                line.walk.begin(now)
        elif kind == "digit" and isinstance(arg, str):
            line.walk.digit(arg, now)
        elif kind == "transfer" and isinstance(arg, tuple):
            line.walk.transfer_status(arg[0], arg[1], now)
        elif kind == "disconnected" and report.id in self.lines:
            line.walk.stop()
            line.stop_playing()
            report.ended_at = now
            report.node_ids = list(line.walk.executed)
            if report.answered and report.sip_code is None:
                report.sip_code = 200
            emit({"event": "ended", **report.__dict__})
            del self.lines[report.id]
            line.walk = FlowWalk("", {}, Idle())  # breaks the line ↔ walk cycle: the Call goes now

    def run(self) -> None:
        threading.Thread(target=self._read_stdin, daemon=True).start()
        self._loop()
        # Every Call and player must be gone before the library is.
        self.lines.clear()
        self.notes.clear()
        self.accounts.clear()
        gc.collect()
        self.ep.libDestroy()

    def _loop(self) -> None:
        closed_at: float | None = None
        while True:
            self.ep.libHandleEvents(TICK_MS)
            now = time.monotonic()
            notes = self.notes[:]  # the lines hold this very list: emptied in place
            self.notes.clear()
            for line, kind, arg in notes:
                self._settle(line, kind, arg, now)
            while True:
                try:
                    cmd = self.commands.get_nowait()
                except queue.Empty:
                    break
                if cmd is None:
                    closed_at = now
                    self.stop(None)
                elif cmd.get("cmd") == "place" and closed_at is None:
                    self.place(cmd)
                elif cmd.get("cmd") == "stop":
                    self.stop(cmd.get("id"))
            for line in list(self.lines.values()):
                if not line.report.answered and not line.hung_up and now >= line.ring_deadline:
                    line.hang_up()  # ring timeout: CANCEL
                elif line.report.answered:
                    line.walk.tick(now)
            if closed_at is not None and (not self.lines or now - closed_at > EXIT_WAIT_SECONDS):
                return

    def _read_stdin(self) -> None:
        for raw in sys.stdin:
            if raw.strip():
                self.commands.put(json.loads(raw))
        self.commands.put(None)


def main() -> None:
    global _out_fd
    # JSON goes to a private copy of stdout; fd 1 becomes stderr, so PJSIP's console log never
    # mixes with the protocol.
    _out_fd = os.dup(1)
    os.dup2(2, 1)
    first = sys.stdin.readline()
    if not first:
        return
    raw = json.loads(first)
    worker = Worker(Config(**raw))
    worker.start()
    worker.run()


if __name__ == "__main__":
    main()
