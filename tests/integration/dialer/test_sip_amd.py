"""Answering-machine detection on real SIP calls: SIPp far ends that stream a recorded pickup
(tests/sipp/answer_stream.xml, the recordings made with the project's own TTS by
tests/support/far_end_audio.py), the SIP carrier's line listening to them, and real Redis for the
trunk limits. A person saying "Hello?" hears the flow from its start; a machine is hung up on while
it still greets (our BYE is what the scenario waits for); a machine is left the message after its
beep, and the far end receives that message: the RTP our line sent it is read off the loopback
interface and decoded."""

from __future__ import annotations

import logging
import math
import random
import re
import struct
import uuid
import wave
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest

from campaign_rules.answering_machine import AnsweringMachine
from kernel.clock import Clock
from services.dialer.adapters.carrier import CallOutcome, CallRequest
from services.dialer.adapters.sip_carrier import SipCarrier
from services.dialer.adapters.trunk_limits import TrunkLimits
from services.dialer.domain import voicemail
from services.dialer.domain.answering_machine import Thresholds
from services.dialer.domain.flows import Flow, FlowNode
from services.dialer.domain.trunks import Address, Trunk
from tests.support.far_end_audio import Recording, RtpTap, from_ulaw, human_pickup, machine_greeting
from tests.support.sipp import Sipp

log = logging.getLogger(__name__)

CALLER = "+212522000001"
CALLEE = "+212600000001"
CAP_MS = Thresholds().max_analysis_ms  # the detector decides by then at the latest

FLOW = Flow("reminder", "hello", (
    FlowNode(id="hello", type="say", text="Hello, this is your reminder", next="bye"),
    FlowNode(id="vm", type="say", text="Sorry we missed you", next="vm-2"),
    FlowNode(id="vm-2", type="say", text="We will call again", next="bye"),
    FlowNode(id="bye", type="hangup"),
))
MESSAGE = ["vm", "vm-2", "bye"]
HANG_UP = AnsweringMachine(detect=True, on_machine="hangup")
LEAVE = AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="vm", count_as_reached=True)
MESSAGE_HZ = 600.0  # the message's prompts: a tone, told apart from anything else on the line


class TonePrompts:
    """Every prompt a one-second tone WAV (8 kHz, 16-bit, mono)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def render(self, text: str) -> Path:
        path = self.directory / f"{uuid.uuid5(uuid.NAMESPACE_URL, text)}.wav"
        if not path.exists():
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i * 2 * math.pi * MESSAGE_HZ / 8000)))
                                       for i in range(8000)))
        return path

    def audio(self, audio_id: str) -> Path | None:
        return None


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> dict[str, tuple[Recording, Path]]:
    """The far ends' recordings, spoken once for the module by the dialer's TTS."""
    directory = tmp_path_factory.mktemp("voices")
    cache = directory / "tts"
    made = {"human": human_pickup(cache), "machine": machine_greeting(cache)}
    return {name: (recording, recording.write(directory / f"{name}.ulaw")) for name, recording in made.items()}


@pytest.fixture
def far_end(tmp_path: Path) -> Iterator[Callable[..., Sipp]]:
    started: list[Sipp] = []

    def start(scenario: str, **placeholders: str) -> Sipp:
        sipp = Sipp(scenario, tmp_path, CALLER_ID=CALLER, CALLEE=CALLEE, BYE_WITHIN_MS="20000",
                    **placeholders).start()
        started.append(sipp)
        return sipp

    yield start
    for sipp in started:
        sipp.stop()


@pytest.fixture
def rtp_ports() -> tuple[int, int]:
    """A range of our own, so the tap hears only this test's line."""
    lo = random.randrange(30_000, 39_000, 2)
    return lo, lo + 100


@pytest.fixture
def prompts(tmp_path: Path) -> TonePrompts:
    directory = tmp_path / "prompts"
    directory.mkdir()
    return TonePrompts(directory)


@asynccontextmanager
async def sip_carrier(sipp: Sipp, limits: TrunkLimits, prompts: TonePrompts, rtp_ports: tuple[int, int]
                      ) -> AsyncIterator[SipCarrier]:
    trunk = Trunk(f"t-amd-{uuid.uuid4().hex[:6]}", "127.0.0.1", sipp.port, "udp", None, None,
                  max_calls_per_second=50, max_concurrent_calls=10, countries=None)
    carrier = SipCarrier(trunks=(trunk,), limits=limits, prompts=prompts, bind=Address("127.0.0.1", 0),
                         public_addr=None, rtp_ports=rtp_ports, ring_timeout=5, max_calls=4, grace_seconds=2.0,
                         clock=Clock())
    await carrier.start()
    try:
        yield carrier
    finally:
        await carrier.close()


def request(setting: AnsweringMachine) -> CallRequest:
    return CallRequest(attempt_id=str(uuid.uuid4()), phone=CALLEE, attempt=1, did_number=CALLER, flow=FLOW,
                       answering_machine=setting)


def assert_far_end_ok(sipp: Sipp) -> None:
    result = sipp.wait()
    assert result.ok and result.successful == 1, (result, sipp.messages())


def logged(outcome: CallOutcome) -> None:
    """What detection decided, in the test's log (pytest shows it with --log-cli-level=INFO)."""
    assert outcome.amd is not None
    log.info("amd %s after %d ms: %s", outcome.amd.result, outcome.amd.decision_ms, dict(outcome.amd.features))


async def test_a_person_saying_hello_hears_the_flow_from_its_start(far_end, limits, voices, prompts, rtp_ports):
    human, stream = voices["human"]
    sipp = far_end("answer_stream", STREAM_FILE=str(stream))
    async with sip_carrier(sipp, limits, prompts, rtp_ports) as carrier:
        outcome = await carrier.place(request(LEAVE))
    assert_far_end_ok(sipp)  # our BYE, at the end of the flow
    logged(outcome)
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["hello", "bye"])
    assert outcome.amd is not None and outcome.amd.result == "human"
    # Decided on the silence after "Hello?", within the detector's cap.
    assert human.speech_end_ms < outcome.amd.decision_ms <= CAP_MS
    assert not outcome.amd.features["beep"]


async def test_a_machine_is_hung_up_on_while_it_greets(far_end, limits, voices, prompts, rtp_ports):
    machine, stream = voices["machine"]
    sipp = far_end("answer_stream", STREAM_FILE=str(stream))
    async with sip_carrier(sipp, limits, prompts, rtp_ports) as carrier:
        outcome = await carrier.place(request(HANG_UP))
    assert_far_end_ok(sipp)  # the scenario's call ends with our BYE
    logged(outcome)
    assert (outcome.outcome, outcome.node_ids) == ("voicemail", [])
    assert outcome.amd is not None and outcome.amd.result == "machine"
    # Decided on the greeting's length, before it was over: the BYE left at the decision.
    assert outcome.amd.decision_ms <= min(CAP_MS, machine.speech_end_ms)
    assert outcome.answered_at is not None
    assert not voicemail.reached(HANG_UP, outcome.outcome, outcome.amd, outcome.node_ids)


def stream_port(sipp: Sipp) -> int:
    """The RTP port the far end's answer named (its streaming socket)."""
    answer = sipp.messages().split("o=callee", 1)[1]
    found = re.search(r"m=audio (\d+)", answer)
    assert found is not None, answer[:500]
    return int(found.group(1))


def loud_from_ms(packets, threshold_dbfs: float = -35.0) -> tuple[int | None, int]:
    """On the stream's own timeline (RTP timestamps from its first packet): where the first loud
    packet lies, and how many milliseconds of loud audio there were."""
    if not packets:
        return None, 0
    first = packets[0].timestamp
    loud = [p for p in packets
            if 20 * np.log10(np.sqrt(np.mean(np.square(from_ulaw(p.payload)))) / 32768 + 1e-12) >= threshold_dbfs]
    if not loud:
        return None, 0
    return ((loud[0].timestamp - first) & 0xFFFFFFFF) // 8, sum(len(p.payload) for p in loud) // 8


async def test_a_machine_is_left_the_message_after_its_beep_and_the_far_end_receives_it(
        far_end, limits, voices, prompts, rtp_ports):
    machine, stream = voices["machine"]
    assert machine.beep_end_ms is not None
    sipp = far_end("answer_stream", STREAM_FILE=str(stream))
    with RtpTap(rtp_ports) as tap:
        async with sip_carrier(sipp, limits, prompts, rtp_ports) as carrier:
            outcome = await carrier.place(request(LEAVE))
    assert_far_end_ok(sipp)  # our BYE, at the end of the message
    logged(outcome)
    assert (outcome.outcome, outcome.node_ids) == ("voicemail", MESSAGE)
    assert outcome.amd is not None and outcome.amd.result == "machine"
    assert outcome.amd.decision_ms <= CAP_MS
    # The greeting ended at its beep, heard whole.
    assert outcome.amd.features["greeting_end"] == "beep"
    assert int(outcome.amd.features["greeting_end_ms"]) >= machine.beep_end_ms
    assert voicemail.reached(LEAVE, outcome.outcome, outcome.amd, outcome.node_ids)

    # What the far end received: silence while we listened, then the message (two 1 s prompts),
    # which began after the beep on the line's timeline.
    start, loud_ms = loud_from_ms(tap.audio_to(stream_port(sipp)))
    log.info("message heard by the far end from %s ms (beep ended at %d ms), %d ms loud",
             start, machine.beep_end_ms, loud_ms)
    assert start is not None, f"{len(tap.packets)} packets tapped, none loud"
    assert start >= machine.beep_end_ms
    assert loud_ms >= 1500


async def test_a_silent_pickup_is_unknown_and_hears_the_flow(far_end, limits, prompts, rtp_ports):
    sipp = far_end("answer_silent")
    async with sip_carrier(sipp, limits, prompts, rtp_ports) as carrier:
        outcome = await carrier.place(request(HANG_UP))
    assert_far_end_ok(sipp)
    logged(outcome)
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["hello", "bye"])
    assert outcome.amd is not None and outcome.amd.result == "unknown"
    assert outcome.amd.decision_ms <= CAP_MS
