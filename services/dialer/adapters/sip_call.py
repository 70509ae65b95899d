"""One call of a SIP line worker (adapters.sip_line): the pjsua2 Call and what it reports.

pjsua2 calls back from inside libHandleEvents; a Line notes what happened (in the worker's list
of notes, by call id) and the worker's loop acts on it. The one thing done inside a callback is
destroying the prompt player when the call's media goes away (DISCONNECTED, or media no longer
active), so no player ever transmits to a dead stream. A Line never hangs up a call that pjsua
reported DISCONNECTED, and nothing but the worker's table of calls refers to a Line: pjsua2's
`~Call` hangs up whatever call holds its slot by then, so a Line must go exactly when its call
has ended (see adapters.sip_line). What the carrier needs to know of the far end is read from
the SIP messages themselves: the final status of the INVITE and the Reason header of that
answer or of the far end's BYE.
"""

from __future__ import annotations

import os
import sys
import wave
from dataclasses import dataclass, field

import pjsua2 as pj

# The RFC 4733 payload type offered: the one far ends overwhelmingly use (pjmedia's build has 120).
TELEPHONE_EVENT_PT = 101

# (call id, what happened, detail): by id, so a pending note never keeps a Line alive.
Note = tuple[str, str, object]


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
    local_error: bool = False     # it failed on our host (no line, bad trunk, makeCall refused): nothing left
    error: str = ""
    # Answering-machine detection: {"result", "decision_ms", "features"}; None when none decided.
    amd: dict[str, object] | None = None


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
    """One call. Callbacks append to the worker's notes; the loop does the rest. It holds no
    reference to its flow walk (the walk drives it), so no cycle keeps it past its call."""

    def __init__(self, notes: list[Note], account: pj.Account, report: Report, ring_deadline: float,
                 trunk_hostport: str):
        super().__init__(account)
        self.notes = notes
        self.report = report
        self.ring_deadline = ring_deadline
        self.trunk_hostport = trunk_hostport
        self.player: pj.AudioMediaPlayer | None = None
        self.audio: pj.AudioMedia | None = None
        self.hung_up = False
        self.disconnected = False  # pjsua reported DISCONNECTED: no pjsua call on it any more

    # pjsua callbacks: note, and drop the player when the media goes.
    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        self._note_tsx(prm.e)
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.notes.append((self.report.id, "answered", None))
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            # pjsua tears the call's media down right after this callback returns.
            self.disconnected = True
            self._drop_player()
            self.audio = None
            self.notes.append((self.report.id, "disconnected", None))

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
        info = self.getInfo()  # held: its media vector dies with it (SWIG gives no copy)
        active = any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE
                     for m in info.media)
        audio: pj.AudioMedia | None = None
        if active:
            try:
                audio = self.getAudioMedia(-1)
            except pj.Error:
                audio = None
        if audio is None:
            self._drop_player()  # the stream is going: nothing may transmit to it
        elif self.player is not None:
            try:
                self.player.startTransmit(audio)  # a re-INVITE may have given the stream a new port
            except pj.Error:
                self._drop_player()
        self.audio = audio

    def onCallSdpCreated(self, prm: pj.OnCallSdpCreatedParam) -> None:
        # The RFC 4733 payload type we offer is the one far ends overwhelmingly use (101), not
        # the build's 120: pjmedia receives events on the number we offer and sends on theirs.
        prm.sdp.wholeSdp = offer_telephone_event(prm.sdp.wholeSdp, TELEPHONE_EVENT_PT)

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        # Both RFC 4733 (method 0) and SIP INFO application/dtmf-relay (method 1) arrive here.
        self.notes.append((self.report.id, "digit", str(prm.digit)))

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        self.notes.append((self.report.id, "transfer", (int(prm.statusCode), bool(prm.finalNotify))))

    # Media, as the flow walk drives it (from the loop only).
    def play(self, wav: str) -> float:
        self.stop_playing()
        if not wav or self.audio is None or self.disconnected:
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
        player = self.player
        if player is not None and self.audio is not None and not self.disconnected:
            try:
                player.stopTransmit(self.audio)
            except pj.Error:
                pass  # the call's media is already gone
        del player
        self._drop_player()

    def _drop_player(self) -> None:
        """Destroys the player (its conference port goes with it, and every connection)."""
        self.player = None

    def release(self) -> None:
        """The call has ended: let go of everything pjsua before the Line itself goes."""
        self._drop_player()
        self.audio = None
        self.notes = []

    def transfer(self, number: str) -> bool:
        if self.disconnected:
            return False
        try:
            self.xfer(f"sip:{number}@{self.trunk_hostport}", pj.CallOpParam(True))
        except pj.Error as exc:
            log(f"REFER: {exc.info()}")
            return False
        return True

    def hang_up(self) -> None:
        if self.hung_up or self.disconnected:
            return  # never a second hangup, never one on an ended call
        self.hung_up = True
        if not self.report.answered:
            self.report.we_cancelled = True
        try:
            self.hangup(pj.CallOpParam(True))
        except pj.Error as exc:
            log(f"call {self.report.id}: hangup refused: {exc.info()}")  # pjsua ends it, or its BYE is already out


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
