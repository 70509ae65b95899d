"""What a SIP line does with answering-machine detection (adapters.sip_amd.Listening), on synthetic
audio handed over as pjsua's capture file grows (4096 bytes, 256 ms, at a time): the handling per
setting and decision, the report, and the limits that keep a call from waiting on a capture that
fails or stalls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from campaign_rules.answering_machine import AnsweringMachine
from services.dialer.adapters.sip_amd import CAPTURE_SLACK_SECONDS, Listening
from services.dialer.domain.answering_machine import Thresholds
from services.dialer.domain.voicemail import Handling

RATE = 8000
CHUNK = 4096  # what the capture file gains at a time
CHUNK_SECONDS = CHUNK / 2 / RATE
T = Thresholds()
HANG_UP = AnsweringMachine(detect=True, on_machine="hangup")
LEAVE = AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="vm")


def silence(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000)


def noise(ms: int, seed: int = 0) -> np.ndarray:
    """Broadband sound at -20 dBFS: heard as sound, never as a tone."""
    return np.random.default_rng(seed).standard_normal(ms * RATE // 1000) * 3277


def tone(hz: float, ms: int) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(ms * RATE // 1000) / RATE) * 4634


def pcm(*parts: np.ndarray) -> bytes:
    return np.concatenate(parts).astype("<i2").tobytes()


PERSON = pcm(silence(400), noise(500), silence(3000))
MACHINE = pcm(silence(300), noise(2500), silence(300), tone(1000, 400), silence(3000))


class FileCapture:
    """The capture as the line sees it: the recording's bytes, one file growth per read."""

    def __init__(self, audio: bytes, starts: bool = True):
        self.audio = audio
        self.starts = starts
        self.path = Path("capture.wav")
        self.running = False
        self.stopped = False
        self.offset = 0

    def start(self, audio: object) -> bool:
        self.running = self.starts
        return self.starts

    def follow(self, audio: object) -> None:
        pass

    def read(self) -> bytes:
        data = self.audio[self.offset:self.offset + CHUNK] if self.running else b""
        self.offset += len(data)
        return data

    def stop(self) -> None:
        self.running, self.stopped = False, True


def listen(setting: AnsweringMachine, capture: FileCapture, passes: int = 400, step: float = CHUNK_SECONDS,
           audio: object = "audio") -> tuple[Handling | None, float, Listening]:
    """Steps the listening as the worker's loop does; what it answered and when (seconds)."""
    listening = Listening(setting, capture)  # type: ignore[arg-type]
    listening.begin(0.0)
    for n in range(1, passes + 1):
        what = listening.step(audio, n * step)
        if what is not None:
            return what, n * step, listening
    return None, passes * step, listening


@pytest.mark.parametrize("setting", [HANG_UP, LEAVE])
def test_a_person_hears_the_flow_whatever_a_machine_would_get(setting):
    capture = FileCapture(PERSON)
    what, _, listening = listen(setting, capture)
    assert what == Handling.FLOW and capture.stopped
    amd = listening.amd()
    assert amd is not None and amd["result"] == "human" and 0 < amd["decision_ms"] <= T.max_analysis_ms
    assert listening.step("audio", 99.0) is None  # it answers once


def test_a_machine_is_hung_up_on_at_the_decision_and_left_the_message_at_the_greetings_end():
    hang_up, at_decision, listening = listen(HANG_UP, FileCapture(MACHINE))
    amd = listening.amd()
    assert hang_up == Handling.HANG_UP and amd is not None and amd["result"] == "machine"
    # Read as the file gave it: the decision is known within one file growth of its audio.
    assert 0 <= amd["features"]["capture_lag_ms"] < CHUNK_SECONDS * 1000

    leave, at_end, listening = listen(LEAVE, FileCapture(MACHINE))
    amd = listening.amd()
    assert leave == Handling.LEAVE_MESSAGE and at_end > at_decision
    assert amd is not None and amd["features"]["greeting_end"] == "beep"
    assert amd["features"]["greeting_end_ms"] >= 3500  # after the tone: 300 + 2500 + 300 + 400 ms


def test_a_capture_that_cannot_start_runs_the_flow_at_once_without_a_decision():
    capture = FileCapture(MACHINE, starts=False)
    what, at, listening = listen(HANG_UP, capture)
    assert (what, at, listening.amd()) == (Handling.FLOW, CHUNK_SECONDS, None)


def test_a_capture_that_stalls_runs_the_flow_after_the_detectors_limit_and_the_slack():
    what, at, listening = listen(HANG_UP, FileCapture(b""), step=0.1)
    assert what == Handling.FLOW and listening.amd() is None
    assert at == pytest.approx(T.max_analysis_ms / 1000 + CAPTURE_SLACK_SECONDS, abs=0.11)


def test_no_media_yet_is_waited_for():
    what, _, listening = listen(HANG_UP, FileCapture(MACHINE), passes=10, audio=None)
    assert what is None and not listening.done


def test_a_greeting_whose_end_is_never_heard_is_left_the_message_at_the_cap():
    # A machine decided, then the capture stalls: the greeting's end never comes to the detector,
    # and the message waits for the detector's cap plus the slack.
    greeting = pcm(silence(300), noise(2500))
    what, at, listening = listen(LEAVE, FileCapture(greeting), passes=2000, step=0.05)
    assert what == Handling.LEAVE_MESSAGE
    amd = listening.amd()
    assert amd is not None and amd["result"] == "machine" and "greeting_end" not in amd["features"]
    assert at == pytest.approx(T.greeting_max_ms / 1000 + CAPTURE_SLACK_SECONDS, abs=0.06)
