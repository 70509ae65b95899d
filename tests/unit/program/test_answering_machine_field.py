"""The program's answeringMachine: checked with the program (after the fields before it), its message
node checked against the flow's nodes, kept through PATCH merging and cleared by null."""

import uuid

import pytest

from campaign_rules.answering_machine import HANGUP, LEAVE_MESSAGE, AnsweringMachine, NodeStep
from campaign_rules.proto import AnsweringMachineMessage as Message
from campaign_rules.proto import CallingHoursMessage as Hours
from campaign_rules.proto import RetryStrategyMessage as Retry
from kernel.errors import ValidationError
from services.program.domain.model import ProgramDraft
from services.program.domain.patch import apply_patch, draft_of
from services.program.domain.validation import check_message_node, check_program
from tests.unit.program.test_program_rules import refused

LEAVE = Message(detect=True, on_machine=LEAVE_MESSAGE, message_node_id="vm", count_as_reached=True)
NODES = {"welcome": NodeStep("say", "bye"), "vm": NodeStep("say", "bye"), "bye": NodeStep("hangup")}


def batch(**kw) -> ProgramDraft:
    base = dict(name="Reminder", audience_id=str(uuid.uuid4()), flow_id=str(uuid.uuid4()),
                start_at="2025-12-20T09:00:00Z", did_pool=(str(uuid.uuid4()),), retry_strategy=Retry(type="none"))
    base.update(kw)
    return ProgramDraft(**base)


def test_without_it_a_program_detects_nothing():
    assert check_program(batch()).answering_machine is None


def test_it_is_kept_with_every_field():
    assert check_program(batch(answering_machine=LEAVE)).answering_machine == AnsweringMachine(
        True, LEAVE_MESSAGE, "vm", True)


def test_a_rule_of_its_own_names_its_field():
    assert refused(batch(answering_machine=Message(detect=True))).startswith("answeringMachine.onMachine: ")


def test_it_is_checked_after_the_fields_before_it():
    bad = Message(detect=True)
    assert refused(batch(answering_machine=bad, calling_hours=Hours(preset="nightly"))).startswith("callingHours.")


def test_the_message_node_must_start_a_message_of_the_flow():
    check_message_node(check_program(batch(answering_machine=LEAVE)).answering_machine, NODES)
    with pytest.raises(ValidationError) as info:
        check_message_node(AnsweringMachine(True, LEAVE_MESSAGE, "bye"), NODES)
    assert info.value.field == "answeringMachine.messageNodeId"


def test_patch_sets_keeps_and_clears_it():
    current = draft_of(check_program(batch(answering_machine=LEAVE)))
    renamed, _ = apply_patch(current, ProgramDraft(name="Renamed"), ["name"])
    assert check_program(renamed).answering_machine == AnsweringMachine(True, LEAVE_MESSAGE, "vm", True)
    changed, names = apply_patch(current, ProgramDraft(answering_machine=Message(detect=True, on_machine=HANGUP)),
                                 ["answeringMachine"])
    assert names == {"answeringMachine"}
    assert check_program(changed).answering_machine == AnsweringMachine(True, HANGUP)
    cleared, _ = apply_patch(current, ProgramDraft(), ["answeringMachine"])
    assert check_program(cleared).answering_machine is None
