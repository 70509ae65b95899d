"""Calls a machine answers, with the simulated carrier: the dial request's answeringMachine decides
what the call does, the call record keeps what detection decided (ListCalls shows it) and
call.completed says whether the message left reached the contact, also when published again.
Against real PostgreSQL, Redis, NATS and the account service."""

from __future__ import annotations

import pytest

from campaign_rules.proto import AnsweringMachineMessage as Setting
from outbound.dialer.v1 import dialer_pb2
from tests.integration.dialer.helpers import Bus, dial_request, dialer_system, new_world, number, settled

# +2127… is answered by a machine, everything else by a person; detection takes 3 virtual seconds.
SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": [],
                "amdDecisionSeconds": 3},
    "rules": [{"match": "^\\+2127", "answeredBy": "machine"}],
}

VOICEMAIL_FLOW = dialer_pb2.CreateFlowRequest(name="Reminder", start_node_id="welcome", nodes=[
    dialer_pb2.FlowNode(id="welcome", type="say", text="Hello", next="bye"),
    dialer_pb2.FlowNode(id="vm", type="say", text="Sorry we missed you", next="vm-2"),
    dialer_pb2.FlowNode(id="vm-2", type="say", text="We will call again", next="bye"),
    dialer_pb2.FlowNode(id="bye", type="hangup"),
])

HANG_UP = Setting(detect=True, on_machine="hangup")
LEAVE = Setting(detect=True, on_machine="leave_message", message_node_id="vm")
LEAVE_REACHES = Setting(detect=True, on_machine="leave_message", message_node_id="vm", count_as_reached=True)


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, SIM_RULES, did_cap=5)


@pytest.fixture
def world(dialer):
    system, stubs, org, _, did = new_world(dialer)
    return system, stubs, org, stubs.flow(org, VOICEMAIL_FLOW), did




def request(world, phone: str, setting: Setting | None):
    _, _, org, flow_id, did = world
    req = dial_request(org, flow_id, [did], phone)
    if setting is not None:
        req.answering_machine.CopyFrom(setting)
    return req


@pytest.mark.parametrize(("setting", "outcome", "nodes", "reached"), [
    (None, "answered", ["welcome", "bye"], False),
    (Setting(detect=False, on_machine="hangup"), "answered", ["welcome", "bye"], False),
    (HANG_UP, "voicemail", [], False),
    (LEAVE, "voicemail", ["vm", "vm-2", "bye"], False),
    (LEAVE_REACHES, "voicemail", ["vm", "vm-2", "bye"], True),
])
async def test_a_machine_gets_what_the_request_asks(world, setting, outcome, nodes, reached):
    system, stubs, org, _, _ = world
    req = request(world, number("+2127"), setting)
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(req)
        result = await bus.one(req.attempt_id)
        # Asked again after the call ended: the same answer, `reached` included.
        await bus.dial(req, msg_id=f"{req.attempt_id}:again")
        await bus.wait_for(lambda: len(bus.of(req.attempt_id, "call.completed")) == 2, what="the re-publication")
    assert (result.outcome, list(result.node_ids), result.reached) == (outcome, nodes, reached)
    assert bus.of(req.attempt_id, "call.completed")[1] == result
    [call] = stubs.calls(org, req.execution_id)
    assert (call.outcome, list(call.node_ids)) == (outcome, nodes)
    if setting is None or not setting.detect:
        assert not call.HasField("amd")
    else:
        assert (call.amd.result, call.amd.decision_ms) == ("machine", 3000)
        # The line was up for the decision (and the message): answered, but free like any voicemail.
        assert call.answered_at and call.talk_seconds == (3 if not nodes else 33)
    assert (await settled(stubs, org)).available == 1000 - (1 if outcome == "answered" else 0)


async def test_a_person_is_detected_and_hears_the_flow(world):
    system, stubs, org, _, _ = world
    req = request(world, number("+2126"), LEAVE_REACHES)
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(req)
        result = await bus.one(req.attempt_id)
    assert (result.outcome, list(result.node_ids), result.reached) == ("answered", ["welcome", "bye"], False)
    [call] = stubs.calls(org, req.execution_id)
    assert (call.amd.result, call.amd.decision_ms) == ("human", 3000)
