"""ProgramService with answeringMachine over gRPC, against the real dialer (the message node is
checked against the flow it holds): kept as given, refused without writing, re-checked on PATCH
when the flow or the setting changes, cleared by an empty mask field."""

from __future__ import annotations

import pytest

from kernel import errors
from outbound.dialer.v1 import dialer_pb2
from outbound.program.v1 import program_pb2 as pb
from tests.integration.program.test_program_service import World, domain_error

LEAVE = pb.AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="vm", count_as_reached=True)


class VoicemailWorld(World):
    """The world's organization with a second flow holding a message chain (vm → vm-2 → bye)."""

    def __init__(self, system, stubs):
        super().__init__(system, stubs)
        self.voicemail_flow = stubs["flows"].CreateFlow(dialer_pb2.CreateFlowRequest(
            organization_id=self.org, name="Reminder with voicemail", start_node_id="welcome",
            nodes=[dialer_pb2.FlowNode(id="welcome", type="say", text="Hello", next="bye"),
                   dialer_pb2.FlowNode(id="vm", type="say", text="Sorry we missed you", next="vm-2"),
                   dialer_pb2.FlowNode(id="vm-2", type="say", text="Goodbye", next="bye"),
                   dialer_pb2.FlowNode(id="bye", type="hangup")]), timeout=30)

    def update(self, program_id: str, mask: list[str], **changes) -> pb.UpdateProgramRequest:
        return pb.UpdateProgramRequest(organization_id=self.org, program_id=program_id,
                                       program=self.batch(**changes), update_mask=mask)


@pytest.fixture(scope="module")
def system(system_factory):
    return system_factory(services=["account", "audience", "dialer", "program"], gateway=False)


@pytest.fixture
def world(system, stubs) -> VoicemailWorld:
    return VoicemailWorld(system, stubs)


def test_the_setting_is_kept_and_answered(world):
    program = world.create(world.batch(flow_id=world.voicemail_flow.id, answering_machine=LEAVE))
    assert program.answering_machine == LEAVE
    assert not world.create(world.batch()).HasField("answering_machine")


@pytest.mark.parametrize(("setting", "message"), [
    (pb.AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="nowhere"),
     "answeringMachine.messageNodeId: node 'nowhere' is not in the program's flow"),
    (pb.AnsweringMachine(detect=True, on_machine="leave_message", message_node_id="bye"),
     "answeringMachine.messageNodeId: node 'bye' must start a chain of say nodes ending in a hangup"),
    (pb.AnsweringMachine(detect=True), "answeringMachine.onMachine: is required when detect is true "
                                       "(one of hangup, leave_message)"),
])
def test_a_refused_setting_writes_nothing(world, setting, message):
    err = world.create_error(world.batch(flow_id=world.voicemail_flow.id, answering_machine=setting))
    assert isinstance(err, errors.ValidationError) and str(err) == message


def test_patch_rechecks_the_message_node_when_the_flow_or_the_setting_changes(world):
    program = world.create(world.batch(flow_id=world.voicemail_flow.id, answering_machine=LEAVE))
    update = world.stubs["program"].UpdateProgram
    # The world's first flow has no node "vm".
    err = domain_error(update, world.update(program.id, ["flowId"]))
    assert isinstance(err, errors.ValidationError) and err.field == "answeringMachine.messageNodeId"
    err = domain_error(update, world.update(program.id, ["answeringMachine"], answering_machine=pb.AnsweringMachine(
        detect=True, on_machine="leave_message", message_node_id="welcome-missing")))
    assert err.field == "answeringMachine.messageNodeId"
    hang_up = pb.AnsweringMachine(detect=True, on_machine="hangup")
    changed = update(world.update(program.id, ["answeringMachine"], answering_machine=hang_up), timeout=30)
    assert changed.answering_machine == hang_up
    moved = update(world.update(program.id, ["flowId"]), timeout=30)  # hangup names no node: any flow will do
    assert moved.flow_id == world.flow.id and moved.answering_machine == hang_up
    cleared = update(pb.UpdateProgramRequest(organization_id=world.org, program_id=program.id,
                                             program=pb.ProgramInput(), update_mask=["answeringMachine"]), timeout=30)
    assert not cleared.HasField("answering_machine")
