"""campaign_rules.answering_machine: the setting's rules (each naming its field), the message chain a
`leave_message` plays, and the one stored form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as s

from campaign_rules import answering_machine as am
from campaign_rules.answering_machine import HANGUP, LEAVE_MESSAGE, AnsweringMachine, NodeStep
from campaign_rules.proto import AnsweringMachineMessage as Message
from kernel.errors import ValidationError

FLOW = {
    "welcome": NodeStep("say", "menu"),
    "menu": NodeStep("gather"),
    "vm": NodeStep("say", "vm-2"),
    "vm-2": NodeStep("say", "bye"),
    "bye": NodeStep("hangup"),
    "stop": NodeStep("optout", "bye"),
    "loop-a": NodeStep("say", "loop-b"),
    "loop-b": NodeStep("say", "loop-a"),
    "dangling": NodeStep("say", "nowhere"),
    "to-menu": NodeStep("say", "menu"),
}


def refused(message: Message) -> str:
    with pytest.raises(ValidationError) as info:
        am.from_proto(message)
    return str(info.value)


def test_every_field_is_kept():
    setting = am.from_proto(Message(detect=True, on_machine=LEAVE_MESSAGE, message_node_id="vm",
                                    count_as_reached=True))
    assert setting == AnsweringMachine(True, LEAVE_MESSAGE, "vm", True)
    assert setting.leaves_message and not setting.hangs_up


def test_hangup_needs_nothing_else():
    setting = am.from_proto(Message(detect=True, on_machine=HANGUP))
    assert setting == AnsweringMachine(True, HANGUP, None, False)
    assert setting.hangs_up and not setting.leaves_message


def test_detection_off_keeps_the_rest_but_acts_on_nothing():
    setting = am.from_proto(Message(detect=False, on_machine=LEAVE_MESSAGE, message_node_id="vm"))
    assert setting.message_node_id == "vm" and not setting.leaves_message and not setting.hangs_up
    assert am.from_proto(Message()) == AnsweringMachine()


@pytest.mark.parametrize(("message", "error"), [
    (Message(detect=True), "answeringMachine.onMachine: is required when detect is true (one of hangup, leave_message)"),
    (Message(detect=True, on_machine="beep"), "answeringMachine.onMachine: must be one of hangup, leave_message"),
    (Message(detect=False, on_machine="voicemail"), "answeringMachine.onMachine: must be one of hangup, leave_message"),
    (Message(detect=True, on_machine=LEAVE_MESSAGE),
     "answeringMachine.messageNodeId: is required when onMachine is leave_message"),
    (Message(detect=True, on_machine=LEAVE_MESSAGE, message_node_id="  "),
     "answeringMachine.messageNodeId: is required when onMachine is leave_message"),
    (Message(detect=True, on_machine=HANGUP, message_node_id="vm"),
     "answeringMachine.messageNodeId: is only allowed when onMachine is leave_message"),
    (Message(detect=True, on_machine=HANGUP, count_as_reached=True),
     "answeringMachine.countAsReached: applies only when onMachine is leave_message"),
    (Message(detect=False, count_as_reached=True),
     "answeringMachine.countAsReached: applies only when onMachine is leave_message"),
])
def test_each_rule_names_its_field(message, error):
    assert refused(message) == error


def test_the_message_chain_is_its_say_nodes_and_the_hangup():
    assert am.message_chain("vm", FLOW) == ("vm", "vm-2", "bye")
    assert am.message_chain("vm-2", FLOW) == ("vm-2", "bye")


@pytest.mark.parametrize("start", ["bye", "menu", "welcome", "stop", "loop-a", "dangling", "to-menu", "absent"])
def test_anything_else_is_no_message(start):
    assert am.message_chain(start, FLOW) is None


@pytest.mark.parametrize(("node", "error"), [
    ("absent", "answeringMachine.messageNodeId: node 'absent' is not in the program's flow"),
    ("welcome", "answeringMachine.messageNodeId: node 'welcome' must start a chain of say nodes ending in a hangup"),
    ("bye", "answeringMachine.messageNodeId: node 'bye' must start a chain of say nodes ending in a hangup"),
])
def test_the_message_node_is_checked_against_the_flow(node, error):
    setting = AnsweringMachine(True, LEAVE_MESSAGE, node)
    with pytest.raises(ValidationError) as info:
        am.check_message_node(setting, FLOW)
    assert str(info.value) == error and info.value.field == "answeringMachine.messageNodeId"


def test_without_a_message_node_there_is_nothing_to_check():
    am.check_message_node(None, {})
    am.check_message_node(AnsweringMachine(True, HANGUP), {})
    am.check_message_node(AnsweringMachine(True, LEAVE_MESSAGE, "vm"), FLOW)


# A random flow: node i is a say (to any node), a hangup or a gather.
flows = s.integers(1, 8).flatmap(lambda n: s.lists(
    s.one_of(s.tuples(s.just("say"), s.integers(0, n)), s.just(("hangup", -1)), s.just(("gather", -1))),
    min_size=n, max_size=n))


def _reaches_hangup_through_says(start: str, graph: dict[str, NodeStep]) -> bool:
    """Reference: at most len(graph) steps along say nodes, then a hangup, after at least one say."""
    node, says = start, 0
    for _ in range(len(graph) + 1):
        step = graph.get(node)
        if step is None or step.type == "gather":
            return False
        if step.type == "hangup":
            return says > 0
        node, says = step.next, says + 1
    return False


@given(flows, s.data())
def test_a_chain_is_found_exactly_when_says_lead_to_a_hangup(nodes, data):
    graph = {f"n{i}": NodeStep(kind, f"n{target}" if target >= 0 else "") for i, (kind, target) in enumerate(nodes)}
    start = data.draw(s.sampled_from(sorted(graph)))
    chain = am.message_chain(start, graph)
    assert (chain is not None) == _reaches_hangup_through_says(start, graph)
    if chain is None:
        return
    assert chain[0] == start and len(chain) >= 2 and len(set(chain)) == len(chain)
    assert [graph[n].type for n in chain] == ["say"] * (len(chain) - 1) + ["hangup"]
    assert all(graph[a].next == b for a, b in zip(chain, chain[1:], strict=False))


@given(s.booleans(), s.sampled_from([None, HANGUP, LEAVE_MESSAGE]), s.booleans())
def test_the_stored_form_reads_back_and_round_trips_through_proto(detect, on_machine, reached):
    node = "vm" if on_machine == LEAVE_MESSAGE else None
    setting = AnsweringMachine(detect, on_machine, node, reached and on_machine == LEAVE_MESSAGE)
    stored = am.to_json(setting)
    assert set(stored) == {"detect", "onMachine", "messageNodeId", "countAsReached"}
    assert am.from_json(stored) == setting
    if not (detect and on_machine is None):
        assert am.from_proto(am.to_proto(setting)) == setting


def test_no_stored_setting_is_none():
    assert am.from_json(None) is None and am.from_json({}) is None
    assert am.from_json({"detect": True, "onMachine": "hangup"}) == AnsweringMachine(True, HANGUP)
