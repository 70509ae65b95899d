"""Answering machines end to end through REST with CARRIER=sip: two SIPp far ends stream recorded
pickups (tests/sipp/answer_stream.xml), a person saying "Hello?" for Moroccan numbers and a
voicemail greeting with its beep for French ones, each behind its own trunk. The line listens,
decides, and the execution's counters and retries follow the program's `answeringMachine`
(`onMachine`, `countAsReached`) and its `retryOn`, with `amd` in the call history."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.campaigns import Tenant, serial
from tests.support.far_end_audio import human_pickup, machine_greeting
from tests.support.sipp import Sipp
from tests.support.system import System

pytestmark = pytest.mark.e2e

PERSON, MACHINE = "+2126", "+336"  # the far end a number reaches, by its country
FLOW = {
    "name": "Reminder with voicemail",
    "startNodeId": "welcome",
    "nodes": [
        {"id": "welcome", "type": "say", "text": "Hello", "next": "bye"},
        {"id": "vm", "type": "say", "text": "Sorry we missed you", "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}
MESSAGE = ["vm", "bye"]
HANG_UP = {"detect": True, "onMachine": "hangup"}
LEAVE = {"detect": True, "onMachine": "leave_message", "messageNodeId": "vm"}
RETRY_ONCE = {"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 1}
CAP_MS = 5000  # the detector decides by then at the latest


@dataclass(frozen=True)
class Campaigns:
    system: System
    tenant: Tenant
    flow_id: str
    did_pool: list[str]
    person: Sipp
    machine: Sipp
    placed: Counter[str] = field(default_factory=Counter)  # calls made to each far end, by country


@pytest.fixture(scope="module")
def campaigns(system_factory, tmp_path_factory) -> Iterator[Campaigns]:
    workdir = tmp_path_factory.mktemp("far-ends")
    base = random.randrange(10_000_000, 89_000_000)
    dids = {"MA": f"+2125{base:08d}", "FR": f"+331{base:08d}"}
    voices = {"MA": human_pickup(workdir / "tts").write(workdir / "person.ulaw"),
              "FR": machine_greeting(workdir / "tts").write(workdir / "machine.ulaw")}
    ends = {country: Sipp("answer_stream", workdir, calls=100_000, timeout="900s", CALLER_ID=dids[country],
                          CALLEE=prefix, STREAM_FILE=str(voices[country]), BYE_WITHIN_MS="20000")
            for country, prefix in (("MA", PERSON), ("FR", MACHINE))}
    trunks = workdir / "trunks.json"
    trunks.write_text(json.dumps([
        {"name": f"{country.lower()}-{uuid.uuid4().hex[:6]}", "uri": f"sip:127.0.0.1:{end.port};transport=udp",
         "maxCallsPerSecond": 20, "maxConcurrentCalls": 8, "countries": [country]}
        for country, end in ends.items()]))
    rtp = random.randrange(21_000, 29_000, 2)
    try:
        for end in ends.values():  # before the system, so no line worker takes their ports
            end.start()
        system = system_factory(clock_speed=60, extra_env={
            "CARRIER": "sip", "SIP_TRUNKS": str(trunks), "SIP_BIND": "127.0.0.1:0", "SIP_MAX_CALLS": "8",
            "SIP_RING_TIMEOUT_SECONDS": "8", "RTP_PORTS": f"{rtp}-{rtp + 200}",
            "PROMPT_CACHE_DIR": str(workdir / "prompts"), "PYTHONFAULTHANDLER": "1"})
        tenant = Tenant(system)
        flow = tenant.org.post("/flows", json=FLOW)
        assert flow.status_code == 201, flow.text
        pool = [system.add_did(number, country, org=tenant.org.id).id for country, number in dids.items()]
        yield Campaigns(system, tenant, flow.json()["id"], pool, ends["MA"], ends["FR"])
    finally:
        for end in ends.values():
            end.stop()


def run(campaigns: Campaigns, **program: Any) -> tuple[dict[str, Any], list[dict], list[dict]]:
    """One person and one machine called by a program: the ended execution and each one's calls."""
    tenant = campaigns.tenant
    phones = [f"{PERSON}{next(serial):08d}", f"{MACHINE}{next(serial):08d}"]
    made = tenant.org.post("/audiences", json={"name": f"audience {uuid.uuid4().hex[:6]}"})
    assert made.status_code == 201, made.text
    added = tenant.org.post("/contacts/bulk", json={"contacts": [{"phone": p} for p in phones],
                                                    "audienceId": made.json()["id"]})
    assert added.status_code == 201, added.text
    created = tenant.program(made.json()["id"], flowId=campaigns.flow_id, didPool=campaigns.did_pool, **program)
    execution_id = tenant.launch(created["id"])
    done = tenant.wait_status(execution_id, "completed")
    calls = sorted(tenant.calls(execution_id), key=lambda c: c["attempt"])
    campaigns.placed.update("MA" if c["phone"] == phones[0] else "FR" for c in calls)
    return done, [c for c in calls if c["phone"] == phones[0]], [c for c in calls if c["phone"] == phones[1]]


def counts(execution: dict[str, Any]) -> tuple[int, int]:
    return execution["contactsCompleted"], execution["contactsFailed"]


def assert_person_heard_the_flow(calls: list[dict]) -> None:
    [call] = calls
    assert (call["outcome"], call["nodeIds"], call["amd"]["result"]) == ("answered", ["welcome", "bye"], "human")
    assert 0 < call["amd"]["decisionMs"] <= CAP_MS


def test_a_machine_hung_up_on_is_retried_and_a_person_hears_the_flow(campaigns: Campaigns):
    done, person, machine = run(campaigns, answeringMachine=HANG_UP, retryStrategy=RETRY_ONCE)

    assert counts(done) == (1, 1)  # voicemail is retried (retryOn's default), then the contact fails
    assert_person_heard_the_flow(person)
    assert [(c["attempt"], c["outcome"], c["nodeIds"], c["amd"]["result"]) for c in machine] == [
        (1, "voicemail", [], "machine"), (2, "voicemail", [], "machine")]
    assert all(c["answeredAt"] is not None and c["amd"]["decisionMs"] <= CAP_MS for c in machine)


def test_a_message_left_completes_the_contact_when_it_counts_and_retry_on_can_leave_it_out(
        campaigns: Campaigns):
    counted, person, machine = run(campaigns, answeringMachine={**LEAVE, "countAsReached": True},
                                   retryStrategy=RETRY_ONCE)
    assert counts(counted) == (2, 0)
    assert_person_heard_the_flow(person)
    [call] = machine
    assert (call["outcome"], call["nodeIds"], call["amd"]["result"]) == ("voicemail", MESSAGE, "machine")

    # Not counted, and voicemail not among the outcomes retried: one call, and the contact fails.
    not_counted, _, machine = run(campaigns, answeringMachine=LEAVE,
                                  retryStrategy={**RETRY_ONCE, "retryOn": ["busy", "no_answer"]})
    assert counts(not_counted) == (1, 1)
    assert [(c["outcome"], c["nodeIds"]) for c in machine] == [("voicemail", MESSAGE)]


def test_each_far_end_saw_only_calls_it_accepted(campaigns: Campaigns):
    """Last in the module: both far ends stop, and every call they took passed their checks
    (caller ID of their country, Request-URI) and ended with our BYE."""
    for end, country in ((campaigns.person, "MA"), (campaigns.machine, "FR")):
        result = end.finish()
        assert result.ok and result.successful == result.created == campaigns.placed[country], (
            result, end.messages())
