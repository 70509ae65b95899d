"""The SIP carrier against SIPp as the far end (one scenario per case, real Redis for the trunk
limits): outcomes and SIP codes, the flow walked over real media (RFC 4733 and SIP INFO digits,
no input, far-end BYE mid-prompt, REFER), ring timeout → CANCEL, 503 failover, 407 digest auth,
Q.850 causes. Every scenario checks the caller ID (From and P-Asserted-Identity) and the
Request-URI, and SIPp's own count of successful calls is asserted."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import struct
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from kernel.clock import Clock
from kernel.settings import Settings
from services.dialer.adapters.carrier import CallNotPlaced, CallOutcome, CallRequest, make_carrier
from services.dialer.adapters.sip_carrier import CarrierClosed, SipCarrier
from services.dialer.adapters.sip_flow import FlowWalk, Step
from services.dialer.adapters.trunk_limits import TrunkLimits
from services.dialer.domain.flows import Flow, FlowNode
from services.dialer.domain.trunks import Address, Trunk, TrunkConfigError
from tests.support.sipp import Sipp, free_udp_port

CALLER = "+212522000001"
CALLEE = "+212600000001"
TRANSFER_TO = "+33142000000"


class TonePrompts:
    """Prompts as tone WAVs (8 kHz, 16-bit, mono) whose length the test chooses: `render` is the
    carrier's call into the prompt renderer, and known lengths make the timing cases exact."""

    def __init__(self, directory: Path, seconds: dict[str, float]):
        self.directory = directory
        self.seconds = seconds
        self.rendered: list[str] = []

    def render(self, text: str) -> Path:
        self.rendered.append(text)
        path = self.directory / f"{uuid.uuid5(uuid.NAMESPACE_URL, text)}.wav"
        if not path.exists():
            frames = int(8000 * self.seconds.get(text, 0.3))
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i * 2 * math.pi * 440 / 8000)))
                                       for i in range(frames)))
        return path

    def audio(self, audio_id: str) -> Path | None:
        return None


@pytest.fixture
def far_ends(tmp_path: Path) -> Callable[..., Sipp]:
    started: list[Sipp] = []

    def start(scenario: str, *, calls: int = 1, transport: str = "u1",
              **placeholders: str | Callable[[Sipp], str]) -> Sipp:
        values = {"CALLER_ID": CALLER, "CALLEE": CALLEE, **placeholders}
        sipp = Sipp(scenario, tmp_path, calls=calls, transport=transport, **values).start()
        started.append(sipp)
        return sipp

    yield start
    for sipp in started:
        sipp.stop()


def trunk(sipp: Sipp, *, username: str | None = None, password: str | None = None) -> Trunk:
    # A fresh name per test: the Redis server is shared by the session.
    transport = "tcp" if sipp.transport.startswith("t") else "udp"
    return Trunk(f"t-{sipp.scenario}-{uuid.uuid4().hex[:6]}", "127.0.0.1", sipp.port, transport, username, password,
                 max_calls_per_second=50, max_concurrent_calls=10, countries=None)


@asynccontextmanager
async def sip_carrier(trunks: list[Trunk], limits: TrunkLimits, prompts: TonePrompts,
                      ring_timeout: float = 2.0) -> AsyncIterator[SipCarrier]:
    carrier = SipCarrier(trunks=tuple(trunks), limits=limits, prompts=prompts, bind=Address("127.0.0.1", 0),
                         public_addr=None, rtp_ports=(40000, 40100), ring_timeout=ring_timeout, max_calls=4,
                         grace_seconds=2.0, clock=Clock())
    await carrier.start()
    try:
        yield carrier
    finally:
        await carrier.close()


def request(flow: Flow | None = None, did: str = CALLER) -> CallRequest:
    return CallRequest(attempt_id=str(uuid.uuid4()), phone=CALLEE, attempt=1, did_number=did, flow=flow)


def menu_flow(timeout: int = 3) -> Flow:
    """menu: 1 → one, 2 → two, 5 → five, else nothing; each then bye."""
    return Flow("menu", "menu", (
        FlowNode(id="menu", type="gather", prompt="Press a key", options={"1": "one", "2": "two", "5": "five"},
                 timeout_seconds=timeout, no_input="nothing"),
        FlowNode(id="one", type="say", text="You chose one", next="bye"),
        FlowNode(id="two", type="say", text="You chose two", next="bye"),
        FlowNode(id="five", type="say", text="You chose five", next="bye"),
        FlowNode(id="nothing", type="say", text="No key", next="bye"),
        FlowNode(id="bye", type="hangup"),
    ))


def long_flow() -> Flow:
    """A 5 s prompt, then bye: long enough for something to happen mid-call."""
    return Flow("long", "welcome", (
        FlowNode(id="welcome", type="say", text="Welcome, this is a long message", next="bye"),
        FlowNode(id="bye", type="hangup")))


def short_flow() -> Flow:
    return Flow("hello", "hello", (FlowNode(id="hello", type="say", text="Hello", next="bye"),
                                   FlowNode(id="bye", type="hangup")))


def assert_far_end_ok(*sipps: Sipp) -> None:
    for sipp in sipps:
        result = sipp.wait()
        assert result.ok and result.successful == sipp.calls, (result, sipp.messages())


def assert_times(outcome: CallOutcome) -> None:
    assert outcome.started_at <= outcome.ended_at
    if outcome.answered_at is not None:
        assert outcome.started_at <= outcome.answered_at <= outcome.ended_at


@pytest.fixture
def prompts(tmp_path: Path) -> TonePrompts:
    directory = tmp_path / "prompts"
    directory.mkdir()
    return TonePrompts(directory, {"Press a key": 1.0, "Welcome, this is a long message": 5.0})


async def test_answered_rfc4733_digit_follows_its_branch(far_ends, limits, prompts):
    sipp = far_ends("answer_rfc4733", DIGIT="2")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(menu_flow()))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.sip_code) == ("answered", 200)
    assert outcome.node_ids == ["menu", "two", "bye"]
    assert_times(outcome)
    # Every prompt went through the renderer.
    assert {"Press a key", "You chose two"} <= set(prompts.rendered)


async def test_answered_sip_info_digit_follows_its_branch(far_ends, limits, prompts):
    sipp = far_ends("answer_info", DIGIT="5")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(menu_flow()))
    assert_far_end_ok(sipp)
    assert outcome.outcome == "answered"
    assert outcome.node_ids == ["menu", "five", "bye"]


async def test_no_digit_follows_no_input(far_ends, limits, prompts):
    sipp = far_ends("answer_silent")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(menu_flow(timeout=1)))
    assert_far_end_ok(sipp)
    assert outcome.outcome == "answered"
    assert outcome.node_ids == ["menu", "nothing", "bye"]
    # Prompt 1 s + 1 s wait + 0.3 s: talk time is real time from answer to BYE.
    assert outcome.talk_seconds == 2


async def test_busy_is_486_with_its_q850_cause(far_ends, limits, prompts):
    sipp = far_ends("busy")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(short_flow()))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.sip_code, outcome.q850_cause) == ("busy", 486, 17)
    assert outcome.answered_at is None and outcome.node_ids == [] and outcome.talk_seconds == 0
    assert_times(outcome)


async def test_a_tcp_trunk_carries_the_call_over_tcp(far_ends, limits, prompts):
    sipp = far_ends("answer_rfc4733", transport="t1", DIGIT="1")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(menu_flow()))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["menu", "one", "bye"])
    assert "TCP message received" in sipp.messages()


async def test_404_is_invalid_number(far_ends, limits, prompts):
    sipp = far_ends("not_found")
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(short_flow()))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.sip_code, outcome.q850_cause) == ("invalid_number", 404, 1)


async def test_ringing_past_the_timeout_is_cancelled_as_no_answer(far_ends, limits, prompts):
    sipp = far_ends("ring_forever")
    async with sip_carrier([trunk(sipp)], limits, prompts, ring_timeout=1) as carrier:
        outcome = await carrier.place(request(short_flow()))
    assert_far_end_ok(sipp)  # the scenario requires our CANCEL (and ends the INVITE with 487)
    # pjsua reports the call ended as soon as it sends CANCEL: the far end's 487 is not seen.
    assert (outcome.outcome, outcome.sip_code) == ("no_answer", None)
    assert 1.0 <= (outcome.ended_at - outcome.started_at).total_seconds() < 3.0


async def test_503_on_the_first_trunk_fails_over_to_the_second(far_ends, limits, prompts):
    down = far_ends("unavailable")
    up = far_ends("answer_silent", calls=2)
    async with sip_carrier([trunk(down), trunk(up)], limits, prompts) as carrier:
        first = await carrier.place(request(short_flow()))
        # The trunk that answered 503 is skipped: the next call goes straight to the second.
        second = await carrier.place(request(short_flow()))
    assert_far_end_ok(down, up)
    assert (first.outcome, first.sip_code, first.node_ids) == ("answered", 200, ["hello", "bye"])
    assert (second.outcome, second.node_ids) == ("answered", ["hello", "bye"])


def digest_response(user: str, realm: str, password: str, nonce: str, uri: str) -> str:
    """RFC 2617 digest without qop, MD5: what the INVITE's Proxy-Authorization must carry."""
    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()
    return h(f"{h(f'{user}:{realm}:{password}')}:{nonce}:{h(f'INVITE:{uri}')}")


async def test_a_trunk_that_never_answers_is_skipped_at_the_ring_timeout(far_ends, limits, prompts):
    up = far_ends("answer_silent")
    silent = Trunk(f"t-silent-{uuid.uuid4().hex[:6]}", "127.0.0.1", free_udp_port(), "udp", None, None,
                   max_calls_per_second=50, max_concurrent_calls=10, countries=None)
    async with sip_carrier([silent, trunk(up)], limits, prompts, ring_timeout=1) as carrier:
        outcome = await carrier.place(request(short_flow()))
        assert carrier.skips.is_skipped(silent.name, time.monotonic())
    assert_far_end_ok(up)
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["hello", "bye"])


async def test_digest_auth_on_407(far_ends, limits, prompts):
    def expected(sipp: Sipp) -> str:
        uri = f"sip:{CALLEE}@127.0.0.1:{sipp.port};transport=udp"
        return digest_response("trunkuser", "trunk.test", "s3cret", "a1b2c3", uri)

    sipp = far_ends("auth_407", USER="trunkuser", REALM="trunk.test", NONCE="a1b2c3", DIGEST_RESPONSE=expected)
    async with sip_carrier([trunk(sipp, username="trunkuser", password="s3cret")], limits, prompts) as carrier:
        outcome = await carrier.place(request(short_flow()))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.sip_code, outcome.node_ids) == ("answered", 200, ["hello", "bye"])


async def test_far_end_bye_mid_prompt_reports_the_nodes_so_far(far_ends, limits, prompts):
    sipp = far_ends("answer_then_bye", BYE_AFTER_MS="800")
    flow = Flow("long", "welcome", (
        FlowNode(id="welcome", type="say", text="Welcome, this is a long message", next="menu"),
        *menu_flow().nodes))
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(flow))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.node_ids, outcome.q850_cause) == ("answered", ["welcome"], 16)
    assert outcome.talk_seconds == 1


async def test_a_reinvite_and_an_update_mid_call_are_answered_and_the_flow_goes_on(far_ends, limits, prompts):
    sipp = far_ends("answer_reinvite")  # fails unless both get 200, the re-INVITE's with SDP
    flow = long_flow()
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(flow))
    assert_far_end_ok(sipp)
    answers = sipp.messages()
    assert "CSeq: 1 INVITE" in answers and "CSeq: 2 UPDATE" in answers  # our 200s, logged by SIPp
    # The 5 s prompt played on across the session change, then our BYE.
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["welcome", "bye"])
    assert outcome.talk_seconds == 5


async def test_refer_accepted_ends_answered_with_the_transfer_node(far_ends, limits, prompts):
    sipp = far_ends("answer_refer", TRANSFER_TO=TRANSFER_TO)
    flow = Flow("xfer", "hello", (
        FlowNode(id="hello", type="say", text="Hello", next="xfer"),
        FlowNode(id="xfer", type="transfer", to=TRANSFER_TO, next="sorry"),
        FlowNode(id="sorry", type="say", text="Transfer failed", next="bye"),
        FlowNode(id="bye", type="hangup"),
    ))
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        outcome = await carrier.place(request(flow))
    assert_far_end_ok(sipp)
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["hello", "xfer"])


async def test_a_bad_trunk_file_stops_the_sip_carrier_naming_trunk_and_field(infra, tmp_path):
    path = tmp_path / "trunks.json"
    path.write_text(json.dumps([{"name": "main", "uri": "sip:198.51.100.7:5060;transport=tls",
                                 "maxCallsPerSecond": 10, "maxConcurrentCalls": 20}]))
    url, _ = infra.new_redis()
    redis = Redis.from_url(url)
    try:
        with pytest.raises(TrunkConfigError) as failure:
            make_carrier(Settings(carrier="sip", raw={"SIP_TRUNKS": str(path)}), redis)
        message = str(failure.value)
        assert "trunk 'main'" in message and "uri" in message and "\n" not in message
        good = tmp_path / "good.json"
        good.write_text(json.dumps([{"name": "main", "uri": "sip:198.51.100.7", "maxCallsPerSecond": 1,
                                     "maxConcurrentCalls": 1}]))
        nine = tmp_path / "nine.json"
        nine.write_text(json.dumps([{"name": f"t{i}", "uri": "sip:198.51.100.7", "maxCallsPerSecond": 1,
                                     "maxConcurrentCalls": 1} for i in range(9)]))
        for raw, expected in (({"SIP_TRUNKS": str(tmp_path / "missing.json")}, "unreadable"),
                              ({"SIP_TRUNKS": str(nine)}, "9 trunks; at most 8"),
                              # 200 calls need 50 line workers of 8 ports each.
                              ({"RTP_PORTS": "20000-20010"}, "RTP_PORTS: 20000-20010 gives 0 ports"),
                              ({"SIP_MAX_CALLS": "zero"}, "SIP_MAX_CALLS"),
                              ({"SIP_BIND": "127.0.0.1:65530"}, "SIP_BIND")):
            with pytest.raises(TrunkConfigError, match=expected):
                make_carrier(Settings(carrier="sip", raw={"SIP_TRUNKS": str(good), **raw}), redis)
    finally:
        await redis.aclose()


async def test_the_far_end_refuses_another_caller_id_and_a_wrong_digest(far_ends, limits, prompts):
    """The scenarios' checks bite: SIPp counts the call failed for a wrong caller ID or digest."""
    busy = far_ends("busy")
    auth = far_ends("auth_407", USER="trunkuser", REALM="trunk.test", NONCE="a1b2c3",
                    DIGEST_RESPONSE=lambda sipp: digest_response(
                        "trunkuser", "trunk.test", "s3cret", "a1b2c3",
                        f"sip:{CALLEE}@127.0.0.1:{sipp.port};transport=udp"))
    async with sip_carrier([trunk(busy)], limits, prompts) as carrier:
        await carrier.place(request(short_flow(), did="+212522999999"))
    async with sip_carrier([trunk(auth, username="trunkuser", password="wrong")], limits, prompts) as carrier:
        await carrier.place(request(short_flow()))
    for sipp in (busy, auth):
        result = sipp.wait()
        assert (result.returncode, result.failed) == (1, 1), result
    assert "Failed regexp match" in busy.wait().errors


async def test_a_dead_line_worker_fails_its_call_and_is_started_again(far_ends, limits, prompts):
    sipp = far_ends("answer_silent", calls=2)
    flow = long_flow()
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        placing = asyncio.create_task(carrier.place(request(flow)))
        await wait_for(lambda: carrier.pool.busy() == 1)
        await asyncio.sleep(0.5)
        worker = carrier.pool.workers[0]
        dead = worker.process
        dead.kill()
        outcome = await asyncio.wait_for(placing, 10)
        # Unknown on the wire: failed, and not tried again elsewhere (it may have reached someone).
        assert (outcome.outcome, outcome.sip_code, outcome.node_ids) == ("failed", None, [])
        await wait_for(lambda: worker.process is not dead and worker.process.returncode is None)
        # The restarted worker takes calls, on the same trunk (a dead worker skips no trunk).
        again = await carrier.place(request(short_flow()))
        assert (again.outcome, again.node_ids) == ("answered", ["hello", "bye"])
    # The far end's first call lost its peer mid-call: only the second is checked.
    sipp.stop()


async def test_close_lets_calls_run_until_the_grace_then_sends_bye(far_ends, limits, prompts):
    sipp = far_ends("answer_silent")
    flow = long_flow()
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        placing = asyncio.create_task(carrier.place(request(flow)))
        await wait_for(lambda: carrier.pool.busy() == 1)
        await asyncio.sleep(0.5)
        closed_at = asyncio.get_running_loop().time()
        await carrier.close()  # grace 2 s: BYE at 1.5 s, before the 5 s prompt ends
        outcome = await asyncio.wait_for(placing, 5)
        assert 1.0 <= asyncio.get_running_loop().time() - closed_at < 4.0
        with pytest.raises(CarrierClosed):
            await carrier.place(request(flow))
    assert_far_end_ok(sipp)  # the scenario requires our BYE
    assert (outcome.outcome, outcome.node_ids) == ("answered", ["welcome"])


async def test_a_call_that_waited_for_trunk_room_is_not_placed_once_its_execution_stopped(
        far_ends, limits, prompts):
    sipp = far_ends("answer_silent")  # exactly one call may arrive
    one_line = trunk(sipp)
    one_line = Trunk(one_line.name, one_line.host, one_line.port, one_line.transport, None, None,
                     max_calls_per_second=50, max_concurrent_calls=1, countries=None)
    flow = Flow("wait", "menu", (FlowNode(id="menu", type="say", text="Press a key", next="bye"),
                                 FlowNode(id="bye", type="hangup")))
    stopped = {"reason": ""}
    asked: list[str] = []

    async def may_start() -> str:
        asked.append(stopped["reason"])
        return stopped["reason"]

    async with sip_carrier([one_line], limits, prompts) as carrier:
        first = asyncio.create_task(carrier.place(request(flow)))
        await wait_for(lambda: carrier.pool.busy() == 1)
        second = CallRequest(attempt_id=str(uuid.uuid4()), phone=CALLEE, attempt=1, did_number=CALLER, flow=flow,
                             may_start=may_start)
        waiting = asyncio.create_task(carrier.place(second))
        await asyncio.sleep(0.3)
        assert not waiting.done() and asked == []  # waiting for the trunk's one slot, not yet asked
        stopped["reason"] = "execution_not_running"  # paused while it waited
        with pytest.raises(CallNotPlaced) as refused:
            await asyncio.wait_for(waiting, 10)
        assert refused.value.reason == "execution_not_running" and asked == ["execution_not_running"]
        assert (await first).outcome == "answered"
    assert_far_end_ok(sipp)  # one call, and only one, reached the far end


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_a_call_in_the_slot_of_an_ended_call_is_not_hung_up_by_it(far_ends, limits, prompts):
    """pjsua hands out call slots in turn, and a Call object destroyed late hangs up whatever
    call holds its slot by then: the fifth call reuses the first call's slot and must run whole."""
    sipp = far_ends("answer_silent", calls=5)  # any CANCEL or early BYE fails the scenario
    long = Flow("long", "welcome", (
        FlowNode(id="welcome", type="say", text="Welcome, this is a long message", next="bye"),
        FlowNode(id="bye", type="hangup")))
    async with sip_carrier([trunk(sipp)], limits, prompts) as carrier:
        first = asyncio.create_task(carrier.place(request(long)))  # slot 0, ends last
        await wait_for(lambda: carrier.pool.busy() == 1)
        await asyncio.sleep(0.3)
        shorts = await asyncio.gather(*(carrier.place(request(short_flow())) for _ in range(3)))  # slots 1-3
        assert [o.outcome for o in shorts] == ["answered"] * 3
        assert (await first).outcome == "answered"
        await asyncio.sleep(1.0)  # the worker idles with no call
        fifth = await asyncio.wait_for(carrier.place(request(short_flow())), 20)  # slot 0 again
        assert (fifth.outcome, fifth.node_ids) == ("answered", ["hello", "bye"])
    assert_far_end_ok(sipp)


async def test_a_call_refused_on_our_host_is_not_placed_and_skips_no_trunk(far_ends, limits, prompts):
    sipp = far_ends("answer_silent")
    known = trunk(sipp)
    async with sip_carrier([known], limits, prompts) as carrier:
        # A trunk the line workers were not started with: the line refuses the call locally.
        stranger = Trunk(f"t-stranger-{uuid.uuid4().hex[:6]}", "127.0.0.1", sipp.port, "udp", None, None,
                         max_calls_per_second=50, max_concurrent_calls=10, countries=None)
        carrier.trunks = (stranger, known)
        with pytest.raises(CallNotPlaced) as refused:
            await carrier.place(request(short_flow()))
        assert refused.value.reason == "line_failed"
        assert not carrier.skips.is_skipped(stranger.name, time.monotonic())
        carrier.trunks = (known,)
        outcome = await carrier.place(request(short_flow()))
        assert (outcome.outcome, outcome.node_ids) == ("answered", ["hello", "bye"])
    assert_far_end_ok(sipp)


class Played:
    """The walk's media as a list of what it was asked to do (the walk's rules, without SIP)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.done: list[str] = []

    def play(self, wav: str) -> float:
        self.done.append(f"play {wav}")
        return self.seconds

    def stop_playing(self) -> None:
        self.done.append("stop")

    def transfer(self, number: str) -> bool:
        return False

    def hang_up(self) -> None:
        self.done.append("hangup")


def test_a_digit_heard_as_a_say_runs_out_reaches_the_gather_after_it():
    steps = {s.id: s for s in (Step("hi", "say", next="menu", wav="hi.wav"),
                               Step("menu", "gather", wav="menu.wav", options={"1": "one"}, no_input="none",
                                    timeout_seconds=3),
                               Step("one", "hangup"), Step("none", "hangup"))}
    early = FlowWalk("hi", steps, Played(1.0))
    early.begin(0.0)
    early.digit("1", 0.5)  # during the say: not listened to
    early.tick(1.01)
    early.tick(6.0)
    assert early.executed == ["hi", "menu", "none"]
    # The worker hands over a step's digits before its tick: the say ran out at 1.0, the digit
    # came in the same step (1.01), after the gather's prompt began.
    late = FlowWalk("hi", steps, Played(1.0))
    late.begin(0.0)
    late.digit("1", 1.01)
    late.tick(1.01)
    assert late.executed == ["hi", "menu", "one"] and late.done
