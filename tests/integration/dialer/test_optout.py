"""A call whose flow reaches an optout node: its call.completed says so (opted_out) with the number
called, against real PostgreSQL, Redis, NATS and the account service, with the sim carrier."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from outbound.dialer.v1 import dialer_pb2
from tests.integration.dialer.helpers import Bus, dial_request, dialer_system, new_world, number

# 9 reaches the optout, 1 does not; +2126003… never answers.
SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": []},
    "rules": [
        {"match": "^\\+2126009", "digits": ["9"]},
        {"match": "^\\+2126001", "digits": ["1"]},
        {"match": "^\\+2126003", "outcomes": ["no_answer"], "digits": ["9"]},
    ],
}

OPTOUT_FLOW = dialer_pb2.CreateFlowRequest(name="Reminder", start_node_id="welcome", nodes=[
    dialer_pb2.FlowNode(id="welcome", type="say", text="Hello", next="menu"),
    dialer_pb2.FlowNode(id="menu", type="gather", prompt="Press 1 to confirm, 9 to stop these calls",
                        options={"1": "thanks", "9": "stop"}, timeout_seconds=5, no_input="bye"),
    dialer_pb2.FlowNode(id="thanks", type="say", text="Thanks", next="bye"),
    dialer_pb2.FlowNode(id="stop", type="optout", text="You will not be called again."),
    dialer_pb2.FlowNode(id="bye", type="hangup"),
])


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, SIM_RULES, did_cap=5)


@pytest.fixture
def world(dialer):
    system, stubs, org, _, did = new_world(dialer)
    return system, stubs, org, stubs.flow(org, OPTOUT_FLOW), did




def test_the_flow_with_an_optout_is_stored_and_answered_as_given(world):
    _, stubs, org, flow_id, _ = world
    flow = stubs.flows.GetFlow(dialer_pb2.GetFlowRequest(organization_id=org, flow_id=flow_id), timeout=30)
    stop = next(n for n in flow.nodes if n.id == "stop")
    assert (stop.type, stop.text, stop.next) == ("optout", "You will not be called again.", "")


async def test_a_call_reaching_the_optout_publishes_opted_out_with_its_phone(world):
    system, stubs, org, flow_id, did = world
    phone = number("+2126009")
    request = dial_request(org, flow_id, [did], phone)
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        result = await bus.one(request.attempt_id)
        # Asked again after the call ended (a consumer lost its copy): the same answer, flag included.
        await bus.dial(request, msg_id="again")
        await bus.wait_for(lambda: len(bus.of(request.attempt_id, "call.completed")) == 2, what="the re-publication")
    assert result.outcome == "answered"
    assert list(result.node_ids) == ["welcome", "menu", "stop"]
    assert (result.phone, result.opted_out) == (phone, True)
    again = bus.of(request.attempt_id, "call.completed")[1]
    assert again == result
    [call] = stubs.calls(org, request.execution_id)
    assert list(call.node_ids) == ["welcome", "menu", "stop"]


async def test_calls_not_reaching_the_optout_carry_their_phone_and_no_flag(world):
    system, stubs, org, flow_id, did = world
    confirmed = dial_request(org, flow_id, [did], number("+2126001"))  # presses 1
    silent = dial_request(org, flow_id, [did], number("+2126005"))  # presses nothing
    unanswered = dial_request(org, flow_id, [did], number("+2126003"))  # would press 9, never answers
    rejected = dial_request(org, flow_id, [str(uuid.uuid4())], number("+2126009"))  # no usable DID
    async with Bus(system.nats_url, system.redis_url) as bus:
        for request in (confirmed, silent, unanswered, rejected):
            await bus.dial(request)
        results = await asyncio.gather(*(bus.one(r.attempt_id) for r in (confirmed, silent, unanswered)))
        refused = await bus.one(rejected.attempt_id, "call.rejected")
    paths = [list(r.node_ids) for r in results]
    assert paths == [["welcome", "menu", "thanks", "bye"], ["welcome", "menu", "bye"], []]
    assert [r.outcome for r in results] == ["answered", "answered", "no_answer"]
    assert [(r.phone, r.opted_out) for r in results] == [(confirmed.phone, False), (silent.phone, False),
                                                         (unanswered.phone, False)]
    assert (refused.reason, refused.phone, refused.opted_out) == ("no_did", rejected.phone, False)
