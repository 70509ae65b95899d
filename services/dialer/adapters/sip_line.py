"""A SIP line worker: one pjsua2 endpoint placing up to LINES calls (`python -m
services.dialer.adapters.sip_line`), driven by the SIP carrier (adapters.sip_carrier) over JSON
lines on stdin and stdout (adapters.sip_line_io); its endpoint is set up in
adapters.sip_line_endpoint.

PJSIP does the SIP transactions, digest auth, session timers, CANCEL, REFER, INFO, RTP, G.711,
RFC 4733 and WAV playback in C; this process only decides. Every pjsua call comes from the main
thread (threadCnt 0, RTP polled by the SIP ioqueue, libHandleEvents in the loop, stdin read there
too): the wheel releases the GIL inside pjsua, so a second Python thread could run a garbage
collection that destroys pjsua objects under the main thread's feet. Callbacks note what
happened and the loop acts on it.

While a call is under way, each loop step waits at most TICK_MS in pjsua (prompt timing and
the digit windows depend on it). With no call the worker sleeps on stdin instead, for up to
IDLE_WAIT_SECONDS, then polls pjsua without waiting: a `place` is taken the moment it arrives,
SIP reaching an idle worker waits at most that long, and an idle worker costs almost no CPU.

A call whose request asks for answering-machine detection does not start its flow at the answer:
it listens (adapters.sip_amd) until the detector decides, then runs the flow from its start
(human, unknown), hangs up (a machine, `hangup`) or, once the greeting has ended, runs the
message from `messageNodeId` (a machine, `leave_message`); its report carries the decision.

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
import shutil
import sys
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj

from campaign_rules import answering_machine
from services.dialer.adapters.sip_amd import Capture, Listening
from services.dialer.adapters.sip_call import Line, Note, Report, log
from services.dialer.adapters.sip_flow import FlowWalk, Step
from services.dialer.adapters.sip_line_endpoint import start_endpoint, trunk_account
from services.dialer.adapters.sip_line_io import Config, Stdin, claim_stdout, emit
from services.dialer.adapters.sip_pool import LINES
from services.dialer.domain import voicemail
from services.dialer.domain.voicemail import Handling

TICK_MS = 10  # while a call is under way
IDLE_WAIT_SECONDS = 0.2  # with no call: the longest sleep on stdin (SIP waits this long at most)
EXIT_WAIT_SECONDS = 10.0  # after end of stdin, the longest wait for calls to end before exiting
GC_EVERY_SECONDS = 10.0  # the cyclic collector runs here, between steps, never on its own


@dataclass
class Active:
    """A call under way: its Line and the flow walk that drives it (the Line never sees the walk),
    and, when the request asks for detection, what listens for a machine before the walk begins."""

    line: Line
    walk: FlowWalk
    listening: Listening | None = None


class Worker:
    def __init__(self, config: Config, stdin: Stdin):
        self.config = config
        self.stdin = stdin
        self.ep = pj.Endpoint()
        self.accounts: dict[str, tuple[pj.Account, dict[str, Any]]] = {}
        self.calls: dict[str, Active] = {}
        self.notes: list[Note] = []
        self.host = config.host
        # Capture files of answering-machine detection, one per listening call, gone with the worker.
        self.tmp = Path(tempfile.mkdtemp(prefix="outbound-sip-line-"))

    def start(self) -> None:
        self.host, port = start_endpoint(self.ep, self.config)
        for trunk in self.config.trunks:
            self.accounts[trunk["name"]] = (trunk_account(self.config, self.host, trunk), trunk)
        emit({"event": "ready", "host": self.host, "port": port, "capture_dir": str(self.tmp)})

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
        self.calls[report.id] = Active(line, FlowWalk(flow.get("start", ""), steps, line),
                                       self._listening(cmd.get("answering_machine")))

    def _listening(self, raw: dict[str, Any] | None) -> Listening | None:
        setting = answering_machine.from_json(raw)
        if setting is None or not voicemail.listens(setting):
            return None
        return Listening(setting, Capture(self.tmp / f"{uuid.uuid4().hex}.wav"))

    def stop(self, call_id: str | None) -> None:
        for key in [k for k in self.calls if call_id is None or k == call_id]:
            active = self.calls[key]
            if active.listening is not None:
                active.listening.close()  # no flow or message after this: the call is ending
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
            elif active.listening is not None:
                active.listening.begin(now)  # the walk waits for the decision
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
        if active.listening is not None:
            active.listening.close()  # the recorder goes before the Line, and its file with it
            report.amd = active.listening.amd()
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
        elif line.report.answered and active.listening is not None and not active.listening.done:
            self._listen(active, now)
        elif line.report.answered:
            active.walk.tick(now)

    def _listen(self, active: Active, now: float) -> None:
        """Feeds the detector what the line heard since the last pass; acts once it has decided."""
        assert active.listening is not None
        what = active.listening.step(active.line.audio, now)
        if what is None:
            return
        active.line.report.amd = active.listening.amd()
        if what == Handling.HANG_UP:
            active.walk.stop()
            active.line.hang_up()
        elif what == Handling.LEAVE_MESSAGE:
            active.walk.begin(now, start=active.listening.setting.message_node_id)
        else:
            active.walk.begin(now)

    def run(self) -> None:
        try:
            self._loop()
        finally:
            # Every Call and player must be gone before the library is, however the loop ended.
            self.calls.clear()
            self.notes.clear()
            self.accounts.clear()
            gc.collect()
            self.ep.libDestroy()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _loop(self) -> None:
        closed_at: float | None = None
        collected_at = time.monotonic()
        while True:
            if not self.calls and not self.notes and closed_at is None:
                # Nothing to time: sleep until a command comes, then poll pjsua without waiting.
                self.stdin.wait(IDLE_WAIT_SECONDS)
                self.ep.libHandleEvents(0)
            else:
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
    claim_stdout()
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
