"""ProgramService over gRPC against the real account, audience and dialer services."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import grpc
import nats
import pytest

from kernel import errors
from outbound.account.v1 import account_pb2
from outbound.audience.v1 import audience_pb2
from outbound.dialer.v1 import dialer_pb2
from outbound.program.v1 import events_pb2, program_pb2_grpc
from outbound.program.v1 import program_pb2 as pb
from tests.support.system import HANG_GUARD_SECONDS

_numbers = itertools.count(100)


@pytest.fixture(scope="module")
def system(system_factory):
    return system_factory(services=["account", "audience", "dialer", "program", "execution"], gateway=False)


def domain_error(call, request) -> errors.DomainError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=30)
    return errors.from_rpc_error(info.value)


class World:
    """One organization with a flow, an audience, a date attribute and two DIDs."""

    def __init__(self, system, stubs):
        self.system, self.stubs = system, stubs
        self.org = stubs["account"].CreateOrganization(
            account_pb2.CreateOrganizationRequest(name="Acme", credits=1000), timeout=30).organization.id
        self.flow = stubs["flows"].CreateFlow(dialer_pb2.CreateFlowRequest(
            organization_id=self.org, name="Reminder", start_node_id="welcome",
            nodes=[dialer_pb2.FlowNode(id="welcome", type="say", text="Hello", next="bye"),
                   dialer_pb2.FlowNode(id="bye", type="hangup")]), timeout=30)
        self.audience = stubs["audience"].CreateAudience(
            audience_pb2.CreateAudienceRequest(organization_id=self.org, name="Customers"), timeout=30)
        stubs["audience"].CreateAttribute(audience_pb2.CreateAttributeRequest(
            organization_id=self.org, name="Due date", slug="due_date", type="date"), timeout=30)
        stubs["audience"].CreateAttribute(audience_pb2.CreateAttributeRequest(
            organization_id=self.org, name="Score", slug="score", type="number"), timeout=30)
        self.dids = [self.did() for _ in range(2)]

    def did(self, **kw) -> dialer_pb2.Did:
        return self.system.add_did(f"+2125000{next(_numbers):05d}", "MA", org=kw.pop("org", self.org), **kw)

    def batch(self, **changes) -> pb.ProgramInput:
        msg = pb.ProgramInput(
            name="Holiday", audience_id=self.audience.id, flow_id=self.flow.id,
            start_at="2025-12-20T09:00:00Z", stop_at="2025-12-20T18:00:00Z",
            did_pool=[d.id for d in self.dids],
            retry_strategy=pb.RetryStrategy(type="fixed_delay", delay_minutes=30, max_retries=2),
            auto_pause_rules=pb.AutoPauseRules(rules=[pb.AutoPauseRule(node_id="bye", threshold=5)]),
        )
        for key, value in changes.items():
            if isinstance(value, list):
                del getattr(msg, key)[:]
                getattr(msg, key).extend(value)
            elif hasattr(value, "DESCRIPTOR"):
                getattr(msg, key).CopyFrom(value)
            else:
                setattr(msg, key, value)
        return msg

    def live(self, **changes) -> pb.ProgramInput:
        msg = self.batch(**changes)
        msg.mode = "live"
        if "audience_id" not in changes:
            msg.ClearField("audience_id")
        if "trigger_condition" not in changes:
            msg.trigger_condition.CopyFrom(pb.TriggerCondition(
                type="date", attribute_name="due_date", direction="before",
                offset=pb.TriggerOffset(days=2, hours=15)))
        return msg

    def create(self, program: pb.ProgramInput) -> pb.Program:
        return self.stubs["program"].CreateProgram(
            pb.CreateProgramRequest(organization_id=self.org, program=program), timeout=30)

    def create_error(self, program: pb.ProgramInput) -> errors.DomainError:
        before = self.count()
        err = domain_error(self.stubs["program"].CreateProgram,
                           pb.CreateProgramRequest(organization_id=self.org, program=program))
        assert self.count() == before, "a refused program must not be written"
        return err

    def count(self) -> int:
        return len(self.stubs["program"].ListPrograms(
            pb.ListProgramsRequest(organization_id=self.org, limit=1000), timeout=30).programs)


@pytest.fixture
def world(system, stubs) -> World:
    return World(system, stubs)


def test_batch_program_resolves_its_dids(world):
    program = world.create(world.batch())
    assert program.status == "draft" and program.mode == "batch"
    assert [d.id for d in program.did_pool] == [d.id for d in world.dids]
    assert program.did_pool[0].number == world.dids[0].number and program.did_pool[0].country == "MA"
    assert program.timezone == "UTC" and program.max_concurrent_calls == 10
    assert program.start_at == "2025-12-20T09:00:00.000Z"
    again = world.stubs["program"].GetProgram(
        pb.GetProgramRequest(organization_id=world.org, program_id=program.id), timeout=30)
    assert again == program


def test_live_program_gets_an_output_audience(world):
    program = world.create(world.live(name="Payment Reminder"))
    assert program.mode == "live" and program.audience_id
    audience = world.stubs["audience"].GetAudience(
        audience_pb2.GetAudienceRequest(organization_id=world.org, audience_id=program.audience_id), timeout=30)
    assert audience.name == "Payment Reminder"
    assert program.trigger_condition.attribute_name == "due_date"


def test_references_are_checked_in_the_callers_organization(world, system, stubs):
    other = World(system, stubs)
    err = world.create_error(world.batch(flow_id=other.flow.id))
    assert isinstance(err, errors.ValidationError) and err.field == "flowId"
    err = world.create_error(world.batch(audience_id=other.audience.id))
    assert isinstance(err, errors.ValidationError) and err.field == "audienceId"
    err = world.create_error(world.batch(did_pool=[other.dids[0].id]))
    assert err.name == "DidNotAccessibleError"


def test_cross_context_rules(world):
    err = world.create_error(world.batch(
        auto_pause_rules=pb.AutoPauseRules(rules=[pb.AutoPauseRule(node_id="nope", threshold=1)])))
    assert err.field == "autoPauseRules[0].nodeId"
    condition = pb.TriggerCondition(type="date", attribute_name="score", direction="after",
                                    offset=pb.TriggerOffset())
    assert world.create_error(world.live(trigger_condition=condition)).field == "triggerCondition.attributeName"
    condition.attribute_name = "missing"
    assert world.create_error(world.live(trigger_condition=condition)).field == "triggerCondition.attributeName"
    assert world.create_error(world.batch(did_pool=[str(uuid.uuid4())])).name == "DidNotFoundError"
    inactive = world.did(inactive=True)
    assert world.create_error(world.batch(did_pool=[inactive.id])).name == "DidNotActiveError"


def test_live_program_refused_late_creates_no_audience(world):
    """The output audience is created only once every other rule passed."""
    before = len(world.stubs["audience"].ListAudiences(
        audience_pb2.ListAudiencesRequest(organization_id=world.org), timeout=30).audiences)
    world.create_error(world.live(did_pool=[str(uuid.uuid4())]))
    after = len(world.stubs["audience"].ListAudiences(
        audience_pb2.ListAudiencesRequest(organization_id=world.org), timeout=30).audiences)
    assert after == before


def test_patch_rechecks_the_rules_against_a_new_flow(world):
    program = world.create(world.batch())
    other_flow = world.stubs["flows"].CreateFlow(dialer_pb2.CreateFlowRequest(
        organization_id=world.org, name="Short", start_node_id="end",
        nodes=[dialer_pb2.FlowNode(id="end", type="hangup")]), timeout=30)
    update = world.stubs["program"].UpdateProgram
    err = domain_error(update, pb.UpdateProgramRequest(
        organization_id=world.org, program_id=program.id, program=pb.ProgramInput(flow_id=other_flow.id),
        update_mask=["flowId"]))
    assert err.field == "autoPauseRules[0].nodeId"
    changed = update(pb.UpdateProgramRequest(
        organization_id=world.org, program_id=program.id,
        program=pb.ProgramInput(flow_id=other_flow.id, name="Renamed"),
        update_mask=["flowId", "autoPauseRules", "stopAt"]), timeout=30)
    assert changed.flow_id == other_flow.id and not changed.HasField("auto_pause_rules")
    assert changed.name == "Holiday" and changed.stop_at == ""


async def test_archive_publishes_once_per_request_and_mark_active(world, system):
    program = world.create(world.batch())
    stub = world.stubs["program"]
    active = stub.MarkProgramActive(pb.MarkProgramActiveRequest(organization_id=world.org, program_id=program.id))
    assert active.status == "active"
    assert stub.MarkProgramActive(pb.MarkProgramActiveRequest(
        organization_id=world.org, program_id=program.id)).status == "active"

    nc = await nats.connect(system.nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe("program.archived", ordered_consumer=True)
        archived = stub.ArchiveProgram(pb.ArchiveProgramRequest(organization_id=world.org, program_id=program.id))
        assert archived.status == "archived"
        while True:
            msg = await sub.next_msg(timeout=HANG_GUARD_SECONDS)
            event = events_pb2.ProgramArchived.FromString(msg.data)
            if event.program_id == program.id:
                break
        assert event.organization_id == world.org and event.archived_at == archived.updated_at
        assert msg.headers["Nats-Msg-Id"] == f"program.archived:{program.id}"
        # Archiving again answers the same archived program; marking active leaves it archived.
        assert stub.ArchiveProgram(pb.ArchiveProgramRequest(
            organization_id=world.org, program_id=program.id)).status == "archived"
        assert stub.MarkProgramActive(pb.MarkProgramActiveRequest(
            organization_id=world.org, program_id=program.id)).status == "archived"
    finally:
        await nc.close()
    err = domain_error(stub.GetProgram, pb.GetProgramRequest(organization_id=world.org, program_id=program.id))
    assert err.name == "ProgramNotFoundError"
    assert stub.GetProgram(pb.GetProgramRequest(organization_id=world.org, program_id=program.id,
                                                include_archived=True)).status == "archived"
    err = domain_error(stub.UpdateProgram, pb.UpdateProgramRequest(
        organization_id=world.org, program_id=program.id, program=pb.ProgramInput(name="x"), update_mask=["name"]))
    assert err.name == "BadRequestException"


async def test_concurrent_patches_both_apply(world, system):
    """Row locking: two PATCHes of different fields racing both survive."""
    program = world.create(world.batch())
    channel = system.aio_channel("program")
    try:
        stub = program_pb2_grpc.ProgramServiceStub(channel)
        await asyncio.gather(
            stub.UpdateProgram(pb.UpdateProgramRequest(organization_id=world.org, program_id=program.id,
                                                       program=pb.ProgramInput(name="A"), update_mask=["name"])),
            stub.UpdateProgram(pb.UpdateProgramRequest(organization_id=world.org, program_id=program.id,
                                                       program=pb.ProgramInput(max_concurrent_calls=3),
                                                       update_mask=["maxConcurrentCalls"])))
        final = await stub.GetProgram(pb.GetProgramRequest(organization_id=world.org, program_id=program.id))
    finally:
        await channel.close()
    assert (final.name, final.max_concurrent_calls) == ("A", 3)
