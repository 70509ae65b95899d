"""What an answered call does once answering-machine detection has decided (domain.voicemail), the
simulated carrier's `answeredBy`, and the calls it makes of them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_rules.answering_machine import HANGUP, LEAVE_MESSAGE, AnsweringMachine
from kernel.clock import Clock
from services.dialer.adapters.carrier import CallRequest, SimCarrier
from services.dialer.domain.flows import Flow, FlowNode
from services.dialer.domain.sim_rules import RulesError, parse_rules
from services.dialer.domain.voicemail import (
    HUMAN,
    MACHINE,
    RESULTS,
    UNKNOWN,
    AmdResult,
    Handling,
    handling,
    listens,
    reached,
)

HANG_UP = AnsweringMachine(True, HANGUP)
MESSAGE = AnsweringMachine(True, LEAVE_MESSAGE, "vm", count_as_reached=False)
MESSAGE_REACHES = AnsweringMachine(True, LEAVE_MESSAGE, "vm", count_as_reached=True)
OFF = AnsweringMachine(False, LEAVE_MESSAGE, "vm", count_as_reached=True)
SETTINGS = (None, OFF, HANG_UP, MESSAGE, MESSAGE_REACHES)


# --- the rule -----------------------------------------------------------------------------------

def test_without_detection_the_flow_runs_whoever_answers():
    for setting in (None, OFF):
        assert not listens(setting)
        assert {handling(setting, r) for r in (None, *RESULTS)} == {Handling.FLOW}


def test_a_person_or_an_undecided_answer_runs_the_flow():
    for setting in (HANG_UP, MESSAGE, MESSAGE_REACHES):
        assert handling(setting, HUMAN) == handling(setting, UNKNOWN) == Handling.FLOW


def test_a_machine_is_hung_up_on_or_left_the_message():
    assert handling(HANG_UP, MACHINE) == Handling.HANG_UP
    assert handling(MESSAGE, MACHINE) == handling(MESSAGE_REACHES, MACHINE) == Handling.LEAVE_MESSAGE


@given(st.sampled_from(SETTINGS), st.sampled_from(["answered", "voicemail", "busy", None]),
       st.sampled_from([None, *RESULTS]), st.lists(st.sampled_from(["welcome", "vm", "bye"]), max_size=3))
def test_reached_only_when_a_message_was_left_and_counts(setting, outcome, result, node_ids):
    amd = None if result is None else AmdResult(result, 1800)
    expected = (setting is MESSAGE_REACHES and outcome == "voicemail" and result == MACHINE and "vm" in node_ids)
    assert reached(setting, outcome, amd, node_ids) == expected


# --- the simulated carrier's rules --------------------------------------------------------------

def test_answered_by_defaults_to_a_person_and_follows_the_attempt():
    rules = parse_rules({"rules": [{"match": "^\\+2127", "answeredBy": ["machine", "human"],
                                    "amdDecisionSeconds": 3.5}]})
    assert rules.plan("+212600000001", 1).answered_by == HUMAN
    assert [rules.plan("+212700000001", n).answered_by for n in (1, 2, 3)] == [MACHINE, HUMAN, HUMAN]
    assert rules.plan("+212700000001", 1).amd_decision_seconds == 3.5
    assert rules.plan("+212600000001", 1).amd_decision_seconds == 2.0
    single = parse_rules({"default": {"answeredBy": "machine"}})
    assert single.plan("+212600000001", 4).answered_by == MACHINE


def test_nobody_answers_a_call_that_is_not_answered():
    rules = parse_rules({"default": {"outcomes": ["busy"], "answeredBy": "machine"}})
    assert rules.plan("+212600000001", 1).answered_by == HUMAN


@pytest.mark.parametrize(("raw", "error"), [
    ({"answeredBy": "fax"}, "default.answeredBy: must be human, machine or a non-empty list of them"),
    ({"answeredBy": []}, "default.answeredBy: must be human, machine or a non-empty list of them"),
    ({"answeredBy": 1}, "default.answeredBy: must be human, machine or a non-empty list of them"),
    ({"amdDecisionSeconds": -1}, "default.amdDecisionSeconds: must be a number >= 0"),
    ({"amdDecisionSeconds": True}, "default.amdDecisionSeconds: must be a number >= 0"),
])
def test_bad_rules_are_refused(raw, error):
    with pytest.raises(RulesError) as info:
        parse_rules({"default": raw})
    assert str(info.value) == error


# --- the simulated carrier's calls --------------------------------------------------------------

FLOW = Flow("Reminder", "welcome", (
    FlowNode(id="welcome", type="say", text="Hello", next="bye"),
    FlowNode(id="vm", type="say", text="Please call us back", next="vm-2"),
    FlowNode(id="vm-2", type="say", text="Goodbye", next="bye"),
    FlowNode(id="bye", type="hangup"),
))
SIM = parse_rules({
    "default": {"ringSeconds": 4, "talkSeconds": 20},
    "rules": [{"match": "^\\+2127", "answeredBy": "machine", "amdDecisionSeconds": 3},
              {"match": "^\\+2128", "outcomes": ["busy"], "answeredBy": "machine"}],
})
PERSON, MACHINE_NUMBER, BUSY = "+212600000001", "+212700000001", "+212800000001"


async def place(phone: str, setting: AnsweringMachine | None):
    carrier = SimCarrier(SIM, Clock(speed=100_000))
    return await carrier.place(CallRequest(attempt_id="e:c:1", phone=phone, attempt=1, did_number="+212522000001",
                                           flow=FLOW, answering_machine=setting))


@pytest.mark.parametrize("setting", [None, OFF])
async def test_without_detection_a_machine_hears_the_flow(setting):
    call = await place(MACHINE_NUMBER, setting)
    assert (call.outcome, call.node_ids, call.talk_seconds, call.amd) == ("answered", ["welcome", "bye"], 20, None)


async def test_a_person_is_detected_and_hears_the_flow():
    call = await place(PERSON, MESSAGE_REACHES)
    assert (call.outcome, call.node_ids, call.talk_seconds) == ("answered", ["welcome", "bye"], 20)
    assert call.amd == AmdResult(HUMAN, 2000, {"simulated": True})


async def test_a_machine_is_hung_up_on_after_the_decision():
    call = await place(MACHINE_NUMBER, HANG_UP)
    assert (call.outcome, call.node_ids, call.talk_seconds) == ("voicemail", [], 3)
    assert call.amd is not None and (call.amd.result, call.amd.decision_ms) == (MACHINE, 3000)
    assert call.answered_at is not None and (call.ended_at - call.answered_at).total_seconds() == 3


async def test_a_machine_is_left_the_message():
    call = await place(MACHINE_NUMBER, MESSAGE_REACHES)
    assert (call.outcome, call.node_ids, call.talk_seconds) == ("voicemail", ["vm", "vm-2", "bye"], 23)
    assert reached(MESSAGE_REACHES, call.outcome, call.amd, call.node_ids)
    assert not reached(MESSAGE, call.outcome, call.amd, call.node_ids)


async def test_a_call_nobody_answers_runs_no_detection():
    call = await place(BUSY, HANG_UP)
    assert (call.outcome, call.node_ids, call.amd) == ("busy", [], None)
