"""Every service rejects malformed gRPC requests itself (callers other than the gateway get the
same guarantees): ids that are not UUIDs, negative amounts, empty required fields, text that
cannot be stored and out-of-range numbers answer INVALID_ARGUMENT, or NOT_FOUND where the
contract says an unknown id is not found. Never INTERNAL or UNKNOWN."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from google.protobuf import struct_pb2

from kernel import errors
from outbound.account.v1 import account_pb2 as acc
from outbound.account.v1 import account_pb2_grpc
from outbound.audience.v1 import audience_pb2 as aud
from outbound.audience.v1 import audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2 as dia
from outbound.dialer.v1 import dialer_pb2_grpc
from outbound.execution.v1 import execution_pb2 as exe
from outbound.execution.v1 import execution_pb2_grpc
from outbound.program.v1 import program_pb2 as prg
from outbound.program.v1 import program_pb2_grpc
from outbound.trigger.v1 import trigger_pb2 as trg
from outbound.trigger.v1 import trigger_pb2_grpc
from tests.support.system import System

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
NOT_A_UUID = "not-a-uuid"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(clock_speed=60, gateway=False)


@pytest.fixture(scope="module")
def org(system: System) -> str:
    return system.create_org(credits=10).id


def refused(method: Callable, request, *codes: grpc.StatusCode, error: str | None = None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        method(request, timeout=30)
    exc = caught.value
    assert exc.code() in codes, f"{type(request).__name__}: {exc.code()} {exc.details()}"
    if error:
        assert errors.from_rpc_error(exc).name == error, exc.details()
    return exc


def test_account_rejects_malformed_requests(system: System, org: str):
    with system.channel("account") as channel:
        stub = account_pb2_grpc.AccountServiceStub(channel)
        refused(stub.CreateOrganization, acc.CreateOrganizationRequest(name=""), INVALID)
        refused(stub.CreateOrganization, acc.CreateOrganizationRequest(name="x" * 201), INVALID)
        refused(stub.CreateOrganization, acc.CreateOrganizationRequest(name="Acme", credits=-1), INVALID)
        refused(stub.CreateOrganization, acc.CreateOrganizationRequest(name="nul\x00"), INVALID)
        refused(stub.AddCredits, acc.AddCreditsRequest(organization_id=org, amount=-5), INVALID,
                error="ValidationError")
        refused(stub.AddCredits, acc.AddCreditsRequest(organization_id=org, amount=0), INVALID)
        refused(stub.AddCredits, acc.AddCreditsRequest(organization_id=NOT_A_UUID, amount=5), NOT_FOUND,
                error="OrganizationNotFoundError")
        refused(stub.GetCredits, acc.GetCreditsRequest(organization_id=NOT_A_UUID), NOT_FOUND)
        refused(stub.GetOrganization, acc.GetOrganizationRequest(organization_id=""), NOT_FOUND)
        refused(stub.ReserveCredits, acc.ReserveCreditsRequest(organization_id=org, reservation_id="r1", amount=-1),
                INVALID)
        refused(stub.ReserveCredits, acc.ReserveCreditsRequest(organization_id=org, reservation_id="", amount=1),
                INVALID)
        refused(stub.SettleReservation, acc.SettleReservationRequest(reservation_id="r-unknown", amount=-3),
                INVALID, NOT_FOUND)
        refused(stub.CreateApiKey, acc.CreateApiKeyRequest(organization_id=NOT_A_UUID), NOT_FOUND)
        refused(stub.RevokeApiKey, acc.RevokeApiKeyRequest(api_key_id=""), NOT_FOUND, INVALID)
        refused(stub.AuthenticateApiKey, acc.AuthenticateApiKeyRequest(api_key="ob_\x00_\x00"), UNAUTHENTICATED)


def test_audience_rejects_malformed_requests(system: System, org: str):
    with system.channel("audience") as channel:
        stub = audience_pb2_grpc.AudienceServiceStub(channel)
        refused(stub.CreateAttribute, aud.CreateAttributeRequest(organization_id=org, name="", type="text"), INVALID)
        refused(stub.CreateAttribute, aud.CreateAttributeRequest(organization_id=org, name="x", type="colour"),
                INVALID)
        refused(stub.CreateAttribute, aud.CreateAttributeRequest(organization_id=org, name="x\x00", type="text"),
                INVALID)
        refused(stub.CreateAttribute, aud.CreateAttributeRequest(organization_id=NOT_A_UUID, name="x", type="text"),
                INVALID, NOT_FOUND)
        refused(stub.CreateContact, aud.CreateContactRequest(organization_id=org, contact=aud.ContactInput(phone="")),
                INVALID)
        refused(stub.CreateContact, aud.CreateContactRequest(
            organization_id=org, contact=aud.ContactInput(phone="+212612345678", name="a\x00b")), INVALID)
        attributes = struct_pb2.Struct()
        attributes.update({"no_such_attribute": 1})
        refused(stub.CreateContact, aud.CreateContactRequest(
            organization_id=org, contact=aud.ContactInput(phone="+212612345679", attributes=attributes)), INVALID)
        refused(stub.GetContact, aud.GetContactRequest(organization_id=org, contact_id=NOT_A_UUID), NOT_FOUND,
                error="ContactNotFoundError")
        refused(stub.ListContacts, aud.ListContactsRequest(organization_id=org, page_size=-1), INVALID)
        refused(stub.ListContacts, aud.ListContactsRequest(organization_id=org, page_token="garbage"), INVALID)
        refused(stub.BulkImportContacts, aud.BulkImportContactsRequest(organization_id=org), INVALID)
        refused(stub.CreateAudience, aud.CreateAudienceRequest(organization_id=org, name=""), INVALID)
        refused(stub.AddAudienceMembers, aud.AudienceMembersRequest(
            organization_id=org, audience_id=NOT_A_UUID, contact_ids=[UNKNOWN_ID]), NOT_FOUND)
        audience = stub.CreateAudience(aud.CreateAudienceRequest(organization_id=org, name="a"), timeout=30)
        refused(stub.AddAudienceMembers, aud.AudienceMembersRequest(
            organization_id=org, audience_id=audience.id, contact_ids=[NOT_A_UUID]), NOT_FOUND, INVALID)
        stream = stub.StreamAudienceContacts(aud.StreamAudienceContactsRequest(
            organization_id=org, audience_id=audience.id, batch_size=-5), timeout=30)
        with pytest.raises(grpc.RpcError) as caught:
            list(stream)
        assert caught.value.code() == INVALID


def test_dialer_rejects_malformed_requests(system: System, org: str):
    with system.channel("dialer") as channel:
        dids = dialer_pb2_grpc.DialerServiceStub(channel)
        flows = dialer_pb2_grpc.FlowServiceStub(channel)
        refused(dids.AddDid, dia.AddDidRequest(number="", country="MA"), INVALID)
        refused(dids.AddDid, dia.AddDidRequest(number="0612345678", country="MA"), INVALID)
        refused(dids.AddDid, dia.AddDidRequest(number="+212522000001", country="ZZ"), INVALID)
        refused(dids.AddDid, dia.AddDidRequest(number="+212522000001", country="MA", organization_id=NOT_A_UUID),
                INVALID, NOT_FOUND)
        refused(dids.SetDidStatus, dia.SetDidStatusRequest(id=NOT_A_UUID, status="active"), NOT_FOUND, INVALID)
        refused(dids.SetDidStatus, dia.SetDidStatusRequest(id=UNKNOWN_ID, status="sleeping"), INVALID, NOT_FOUND)
        refused(dids.DeleteDid, dia.DeleteDidRequest(id=NOT_A_UUID), NOT_FOUND)
        refused(dids.ListAvailableDids, dia.ListAvailableDidsRequest(organization_id=org, limit=-1), INVALID)
        refused(dids.ListAvailableDids, dia.ListAvailableDidsRequest(organization_id=org, cursor="garbage"),
                INVALID)
        refused(dids.ResolveDids, dia.ResolveDidsRequest(organization_id=org, did_ids=[NOT_A_UUID], validate=True),
                NOT_FOUND, error="DidNotFoundError")
        refused(flows.CreateFlow, dia.CreateFlowRequest(organization_id=org, name="f", start_node_id="a"), INVALID)
        refused(flows.CreateFlow, dia.CreateFlowRequest(
            organization_id=org, name="", start_node_id="a", nodes=[dia.FlowNode(id="a", type="hangup")]), INVALID)
        refused(flows.CreateFlow, dia.CreateFlowRequest(
            organization_id=org, name="f", start_node_id="a", nodes=[dia.FlowNode(id="a", type="explode")]), INVALID)
        refused(flows.GetFlow, dia.GetFlowRequest(organization_id=org, flow_id=NOT_A_UUID), NOT_FOUND)
        refused(flows.ListFlows, dia.ListFlowsRequest(organization_id=org, limit=5000), INVALID)


def test_program_rejects_malformed_requests(system: System, org: str):
    with system.channel("program") as channel:
        stub = program_pb2_grpc.ProgramServiceStub(channel)
        base = dict(name="p", mode="batch", audience_id=UNKNOWN_ID, flow_id=UNKNOWN_ID,
                    start_at="2030-01-01T00:00:00Z", did_pool=[UNKNOWN_ID],
                    retry_strategy=prg.RetryStrategy(type="none"))

        def create(**changes) -> prg.CreateProgramRequest:
            return prg.CreateProgramRequest(organization_id=org, program=prg.ProgramInput(**{**base, **changes}))

        refused(stub.CreateProgram, prg.CreateProgramRequest(organization_id=org), INVALID)
        refused(stub.CreateProgram, create(name=""), INVALID, error="ValidationError")
        refused(stub.CreateProgram, create(mode="sometimes"), INVALID)
        refused(stub.CreateProgram, create(start_at="yesterday"), INVALID)
        refused(stub.CreateProgram, create(start_at="0001-01-01T00:00:00+01:00"), INVALID)
        refused(stub.CreateProgram, create(did_pool=[]), INVALID)
        refused(stub.CreateProgram, create(flow_id=NOT_A_UUID), INVALID)
        refused(stub.CreateProgram, create(max_concurrent_calls=-1), INVALID)
        refused(stub.CreateProgram, create(timezone="Mars/Olympus"), INVALID)
        refused(stub.CreateProgram, create(retry_strategy=prg.RetryStrategy(
            type="fixed_delay", delay_minutes=-1, max_retries=1)), INVALID)
        refused(stub.GetProgram, prg.GetProgramRequest(organization_id=org, program_id=NOT_A_UUID), NOT_FOUND,
                error="ProgramNotFoundError")
        refused(stub.ListPrograms, prg.ListProgramsRequest(organization_id=org, limit=-3), INVALID)
        refused(stub.ListPrograms, prg.ListProgramsRequest(organization_id=org, cursor="%%%"), INVALID)
        refused(stub.ArchiveProgram, prg.ArchiveProgramRequest(organization_id=org, program_id=""), NOT_FOUND)


def test_execution_rejects_malformed_requests(system: System, org: str):
    with system.channel("execution") as channel:
        stub = execution_pb2_grpc.ExecutionServiceStub(channel)
        refused(stub.LaunchProgram, exe.LaunchProgramRequest(organization_id=org, program_id=NOT_A_UUID), NOT_FOUND,
                error="ProgramNotFoundError")
        refused(stub.LaunchProgram, exe.LaunchProgramRequest(organization_id=org, program_id=""), NOT_FOUND)
        for method, message in ((stub.GetExecution, exe.GetExecutionRequest),
                                (stub.PauseExecution, exe.PauseExecutionRequest),
                                (stub.CancelExecution, exe.CancelExecutionRequest),
                                (stub.ResumeExecution, exe.ResumeExecutionRequest)):
            refused(method, message(organization_id=org, execution_id=NOT_A_UUID), NOT_FOUND,
                    error="ExecutionNotFoundError")
        refused(stub.ListExecutions, exe.ListExecutionsRequest(organization_id=org, cursor="garbage"), INVALID)
        refused(stub.ListExecutions, exe.ListExecutionsRequest(organization_id=org, limit=-1), INVALID)


def test_trigger_rejects_malformed_requests(system: System, org: str):
    with system.channel("trigger") as channel:
        stub = trigger_pb2_grpc.TriggerServiceStub(channel)
        condition = prg.TriggerCondition(type="date", attribute_name="due", direction="before",
                                         offset=prg.TriggerOffset(days=1))
        refused(stub.StartLiveExecution, trg.StartLiveExecutionRequest(
            organization_id=org, program_id=UNKNOWN_ID, execution_id=NOT_A_UUID, trigger_condition=condition),
            INVALID)
        refused(stub.StartLiveExecution, trg.StartLiveExecutionRequest(
            organization_id=NOT_A_UUID, program_id=UNKNOWN_ID, execution_id=UNKNOWN_ID, trigger_condition=condition),
            INVALID)
        refused(stub.StartLiveExecution, trg.StartLiveExecutionRequest(
            organization_id=org, program_id=UNKNOWN_ID, execution_id=UNKNOWN_ID), INVALID)
        refused(stub.StartLiveExecution, trg.StartLiveExecutionRequest(
            organization_id=org, program_id=UNKNOWN_ID, execution_id=UNKNOWN_ID, trigger_condition=prg.TriggerCondition(
                type="date", attribute_name="due", direction="sideways", offset=prg.TriggerOffset(days=-1))), INVALID)
        refused(stub.ListTriggers, trg.ListTriggersRequest(organization_id=org, program_id=UNKNOWN_ID,
                                                           status="exploded"), INVALID)
        refused(stub.ListTriggers, trg.ListTriggersRequest(organization_id=org, program_id=UNKNOWN_ID, limit=5000),
                INVALID)
        refused(stub.ListTriggers, trg.ListTriggersRequest(organization_id=org, program_id=UNKNOWN_ID,
                                                           cursor="garbage"), INVALID)
