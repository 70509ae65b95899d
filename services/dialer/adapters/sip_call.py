"""One call of a SIP line worker (adapters.sip_line): the pjsua2 Call and what it reports.

pjsua2 calls back from inside libHandleEvents; a Line only notes what happened (in the worker's
list of notes) and the worker's loop acts on it, so no pjsua call is made from a callback. What
the carrier needs to know of the far end is read from the SIP messages themselves: the final
status of the INVITE and the Reason header of that answer or of the far end's BYE.
"""

from __future__ import annotations

import os
import sys
import wave
from dataclasses import dataclass, field

import pjsua2 as pj

from services.dialer.adapters.sip_flow import FlowWalk, Step

# The RFC 4733 payload type offered: the one far ends overwhelmingly use (pjmedia's build has 120).
TELEPHONE_EVENT_PT = 101

Note = tuple["Line", str, object]


@dataclass
class Report:
    """What the carrier learns of one call; `*_at` are time.monotonic() instants (system-wide)."""

    id: str
    invited_at: float
    sip_code: int | None = None   # the far end's final answer to the INVITE (auth challenges overwritten)
    reason: str = ""              # Reason header(s) of that answer, or of the far end's BYE
    we_cancelled: bool = False
    answered: bool = False
    answered_at: float | None = None
    ended_at: float | None = None
    node_ids: list[str] = field(default_factory=list)
    responded: bool = False       # any response at all came back to the INVITE
    transport_error: bool = False
    error: str = ""


def reason_of(message: str) -> str:
    """The Reason header values of a raw SIP message, comma-joined ("" when none)."""
    head = message.split("\r\n\r\n", 1)[0]
    values = [line.split(":", 1)[1].strip() for line in head.split("\r\n")[1:]
              if line.lower().startswith("reason") and line[6:].lstrip().startswith(":")]
    return ", ".join(values)


def status_of(message: str) -> int | None:
    first = message.split("\r\n", 1)[0].split()
    return int(first[1]) if len(first) >= 2 and first[0].startswith("SIP/") and first[1].isdigit() else None


def wav_seconds(path: str) -> float:
    with wave.open(path, "rb") as w:
        return w.getnframes() / float(w.getframerate())


class Line(pj.Call):
    """One call. Callbacks append to the worker's notes; the loop does the rest."""

    def __init__(self, notes: list[Note], account: pj.Account, report: Report, steps: dict[str, Step],
                 start: str, ring_deadline: float, trunk_hostport: str):
        super().__init__(account)
        self.notes = notes
        self.report = report
        self.ring_deadline = ring_deadline
        self.trunk_hostport = trunk_hostport
        self.walk = FlowWalk(start, steps, self)
        self.player: pj.AudioMediaPlayer | None = None
        self.audio: pj.AudioMedia | None = None
        self.hung_up = False

    # pjsua callbacks: note only.
    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        self._note_tsx(prm.e)
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.notes.append((self, "answered", None))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.notes.append((self, "disconnected", None))

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        self._note_tsx(prm.e)

    def _note_tsx(self, e: pj.SipEvent) -> None:
        """The INVITE's responses (pjsua reports them with the call's state) and a far-end BYE's Reason."""
        if e.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        event = e.body.tsxState
        tsx = event.tsx
        if tsx.method == "INVITE" and tsx.role == pj.PJSIP_ROLE_UAC:
            if event.type == pj.PJSIP_EVENT_RX_MSG:
                message = event.src.rdata.wholeMsg
                code = status_of(message)
                self.report.responded = True
                if code is not None and code >= 200:
                    self.report.sip_code = code
                    self.report.reason = reason_of(message)
            elif event.type == pj.PJSIP_EVENT_TRANSPORT_ERROR:
                self.report.transport_error = True
        elif tsx.method == "BYE" and tsx.role == pj.PJSIP_ROLE_UAS and event.type == pj.PJSIP_EVENT_RX_MSG:
            self.report.reason = reason_of(event.src.rdata.wholeMsg) or self.report.reason

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self.audio = self.getAudioMedia(-1)
        except pj.Error:
            self.audio = None

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        # The RFC 4733 payload type we offer is the one far ends overwhelmingly use (101), not
        # the build's 120: pjmedia receives events on the number we offer and sends on theirs.
        prm.sdp.wholeSdp = offer_telephone_event(prm.sdp.wholeSdp, TELEPHONE_EVENT_PT)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        # Both RFC 4733 (method 0) and SIP INFO application/dtmf-relay (method 1) arrive here.
        self.notes.append((self, "digit", str(prm.digit)))

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        self.notes.append((self, "transfer", (int(prm.statusCode), bool(prm.finalNotify))))

    # Media, as the flow walk drives it (from the loop only).
    def play(self, wav: str) -> float:
        self.stop_playing()
        if not wav or self.audio is None:
            return 0.0
        try:
            player = pj.AudioMediaPlayer()
            player.createPlayer(wav, pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self.audio)
        except pj.Error as exc:
            log(f"prompt {wav}: {exc.info()}")
            return 0.0
        self.player = player
        return wav_seconds(wav)

    def stop_playing(self) -> None:
        player, self.player = self.player, None
        if player is not None and self.audio is not None:
            try:
                player.stopTransmit(self.audio)
            except pj.Error:
                pass  # the call's media is already gone
        del player

    def transfer(self, number: str) -> bool:
        try:
            self.xfer(f"sip:{number}@{self.trunk_hostport}", pj.CallOpParam(True))
        except pj.Error as exc:
            log(f"REFER: {exc.info()}")
            return False
        return True

    def hang_up(self) -> None:
        if self.hung_up:
            return
        self.hung_up = True
        if not self.report.answered:
            self.report.we_cancelled = True
        try:
            self.hangup(pj.CallOpParam(True))
        except pj.Error:
            pass  # already ending


class Idle:
    """The media of a walk whose call has ended: nothing left to drive."""

    def play(self, wav: str) -> float:
        return 0.0

    def stop_playing(self) -> None:
        pass

    def transfer(self, number: str) -> bool:
        return False

    def hang_up(self) -> None:
        pass


def offer_telephone_event(sdp: str, pt: int) -> str:
    """The SDP with its telephone-event/8000 payload type renumbered to `pt`."""
    lines = sdp.split("\r\n")
    old = next((line.split(":", 1)[1].split()[0] for line in lines
                if line.startswith("a=rtpmap:") and "telephone-event/8000" in line), None)
    if old is None or old == str(pt):
        return sdp
    out = []
    for line in lines:
        if line.startswith("m=audio "):
            parts = line.split(" ")
            line = " ".join(parts[:3] + [str(pt) if p == old else p for p in parts[3:]])
        elif line.startswith((f"a=rtpmap:{old} ", f"a=fmtp:{old} ")):
            line = line.replace(f":{old} ", f":{pt} ", 1)
        out.append(line)
    return "\r\n".join(out)



def log(text: str) -> None:
    sys.stderr.write(f"sip_line[{os.getpid()}]: {text}\n")
    sys.stderr.flush()
