"""Answering-machine detection inside a SIP line worker (adapters.sip_line): the far end's audio
captured from the answer on, fed to the detector (domain.answering_machine), and what the call
does once it has decided (domain.voicemail.handling).

Capture: a pjsua2 `AudioMediaRecorder` takes the call's incoming audio from the conference bridge
and writes it to a WAV file in the worker's temporary directory; the worker's loop reads what the
file gained since its last pass and feeds it to the detector in one batch. No Python runs on any
other thread: pjmedia's clock thread writes the file in C, and the recorder has no callback. The
bridge hands the recorder a frame every 20 ms whether RTP came or not (silence when none did), so
the audio read is the line's own timeline from the answer on.

Latency: pjmedia's WAV writer keeps 4000 bytes (250 ms at 8 kHz, 16-bit) before it writes, and
the C library's stdio buffer another 4096 bytes, so the file trails the line by 0.25 to 0.5 s.
The decision itself is timed in audio heard (`decision_ms`); the lag is reported beside it as
`capture_lag_ms` (real time from the answer to the decision being read, minus `decision_ms`).

A capture that cannot start, or that stops growing, does not hold a call: after the detector's
longest listening time plus CAPTURE_SLACK_SECONDS without a decision the flow runs as without
detection (no amd), and a machine's greeting that never seems to end is left the message after
`greeting_max_ms` plus the same slack.
"""

from __future__ import annotations

import os
from pathlib import Path

import pjsua2 as pj

from campaign_rules.answering_machine import AnsweringMachine
from services.dialer.adapters.sip_call import log
from services.dialer.domain import voicemail
from services.dialer.domain.answering_machine import SAMPLE_WIDTH, Detector, Thresholds
from services.dialer.domain.voicemail import Handling

WAV_HEADER_BYTES = 44  # pjmedia's WAV writer: the RIFF header of a PCM file, then the samples
CAPTURE_SLACK_SECONDS = 2.0  # beyond the detector's own limits, for a capture that lags or stalls


class Capture:
    """The far end's audio of one call, recorded by pjsua to `path` and read back as it grows."""

    def __init__(self, path: Path):
        self.path = path
        self.recorder: pj.AudioMediaRecorder | None = None
        self.port_id: int | None = None  # the bridge port the recorder listens to
        self.offset = WAV_HEADER_BYTES
        self.fd: int | None = None

    @property
    def running(self) -> bool:
        return self.recorder is not None

    def start(self, audio: pj.AudioMedia) -> bool:
        """Records from the call's audio; False when pjsua refuses (nothing left to stop)."""
        try:
            recorder = pj.AudioMediaRecorder()
            recorder.createRecorder(str(self.path))  # the file exists from here on
            audio.startTransmit(recorder)
            self.fd = os.open(self.path, os.O_RDONLY)
        except (pj.Error, OSError) as exc:
            log(f"capture {self.path.name}: {exc.info() if isinstance(exc, pj.Error) else exc}")
            self.stop()
            return False
        self.recorder, self.port_id = recorder, audio.getPortId()
        return True

    def follow(self, audio: pj.AudioMedia) -> None:
        """A re-INVITE may have given the call's audio another bridge port: listen to that one."""
        if self.recorder is None or audio.getPortId() == self.port_id:
            return
        try:
            audio.startTransmit(self.recorder)
            self.port_id = audio.getPortId()
        except pj.Error as exc:
            log(f"capture {self.path.name}: {exc.info()}")

    def read(self) -> bytes:
        """The samples written since the last read (whole samples only)."""
        if self.recorder is None or self.fd is None:
            return b""
        size = os.fstat(self.fd).st_size - self.offset
        if size <= 0:
            return b""  # nothing new (or the header not written yet)
        data = os.pread(self.fd, size - size % SAMPLE_WIDTH, self.offset)
        self.offset += len(data)
        return data

    def stop(self) -> None:
        """Destroys the recorder (its bridge port and connections go with it) and deletes the file."""
        self.recorder = None
        self.port_id = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Listening:
    """Detection on one answered call: `step` each loop pass until it answers what to do, once."""

    def __init__(self, setting: AnsweringMachine, capture: Capture, thresholds: Thresholds = Thresholds()):
        self.setting = setting
        self.capture = capture
        self.detector = Detector(thresholds)
        self.thresholds = thresholds
        self.since: float | None = None  # when listening began (the answer)
        self.decided_at: float | None = None
        self.done = False

    def begin(self, now: float) -> None:
        self.since = now

    def step(self, audio: pj.AudioMedia | None, now: float) -> Handling | None:
        """What the call does now (FLOW, HANG_UP, or LEAVE_MESSAGE once the greeting ended), or
        None while it listens on. Answers once; the capture is stopped when it does."""
        if self.done or self.since is None:
            return None
        if audio is not None:
            if not self.capture.running and not self.capture.start(audio):
                return self._finish(Handling.FLOW)  # no capture, no detection: as without it
            self.capture.follow(audio)
        decision = self.detector.feed(self.capture.read())
        waited = now - self.since
        if decision is None:
            if waited > self.thresholds.max_analysis_ms / 1000 + CAPTURE_SLACK_SECONDS:
                log(f"capture {self.capture.path.name}: {self.detector.heard_ms} ms heard in {waited:.1f} s")
                return self._finish(Handling.FLOW)
            return None
        if self.decided_at is None:
            self.decided_at = now
        what = voicemail.handling(self.setting, decision.result)
        if (what == Handling.LEAVE_MESSAGE and self.detector.greeting_ended is None
                and waited <= self.thresholds.greeting_max_ms / 1000 + CAPTURE_SLACK_SECONDS):
            return None
        return self._finish(what)

    def _finish(self, what: Handling) -> Handling:
        self.done = True
        self.capture.stop()
        return what

    def amd(self) -> dict[str, object] | None:
        """What detection decided, as the worker reports it; None when it did not decide."""
        decision = self.detector.decision
        if decision is None or self.since is None or self.decided_at is None:
            return None
        lag_ms = int(round((self.decided_at - self.since) * 1000)) - decision.decision_ms
        features: dict[str, object] = {**decision.features, "capture_lag_ms": lag_ms}
        ended = self.detector.greeting_ended
        if ended is not None:
            features.update(greeting_end=ended.reason, greeting_end_ms=ended.at_ms)
        return {"result": decision.result, "decision_ms": decision.decision_ms, "features": features}

    def close(self) -> None:
        """The call has ended: nothing more is captured."""
        self.done = True
        self.capture.stop()
