"""The trigger service with the real account and audience services beside it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import pytest
from google.protobuf import struct_pb2

from kernel.timefmt import iso
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from tests.support.system import System


def struct(values: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({k: (iso(v) if isinstance(v, datetime) else v) for k, v in values.items()})
    return out


@dataclass
class Live:
    """One organization with a date attribute, driven over gRPC like the other services do."""

    system: System
    org: str
    slug: str
    audience: audience_pb2_grpc.AudienceServiceStub
    trigger: trigger_pb2_grpc.TriggerServiceStub

    def contact(self, phone: str, name: str | None = None, due: datetime | None = None, **attrs) -> str:
        values = dict(attrs)
        if due is not None:
            values[self.slug] = due
        contact = audience_pb2.ContactInput(phone=phone, attributes=struct(values))
        if name is not None:
            contact.name = name
        return self.audience.CreateContact(audience_pb2.CreateContactRequest(
            organization_id=self.org, contact=contact), timeout=30).id

    def set_due(self, contact_id: str, due: datetime | None) -> None:
        self.audience.UpdateContact(audience_pb2.UpdateContactRequest(
            organization_id=self.org, contact_id=contact_id, attributes=struct({self.slug: due})), timeout=30)

    def rename(self, contact_id: str, name: str) -> None:
        self.audience.UpdateContact(audience_pb2.UpdateContactRequest(
            organization_id=self.org, contact_id=contact_id, name=name), timeout=30)

    def delete(self, contact_id: str) -> None:
        self.audience.DeleteContact(audience_pb2.DeleteContactRequest(
            organization_id=self.org, contact_id=contact_id), timeout=30)

    def output_audience(self) -> str:
        return self.audience.CreateAudience(audience_pb2.CreateAudienceRequest(
            organization_id=self.org, name=f"out-{uuid.uuid4().hex[:6]}"), timeout=30).id

    def members(self, audience_id: str) -> set[str]:
        answer = self.audience.ListAudienceMembers(audience_pb2.ListAudienceMembersRequest(
            organization_id=self.org, audience_id=audience_id, page_size=1000), timeout=30)
        return {c.id for c in answer.contacts}

    def start(self, direction: str = "before", days: int = 0, hours: int = 0, minutes: int = 0,
              audience_id: str = "", execution_id: str | None = None, program_id: str | None = None
              ) -> tuple[str, str, int]:
        execution_id = execution_id or str(uuid.uuid4())
        program_id = program_id or str(uuid.uuid4())
        answer = self.trigger.StartLiveExecution(trigger_pb2.StartLiveExecutionRequest(
            organization_id=self.org, program_id=program_id, execution_id=execution_id,
            output_audience_id=audience_id,
            trigger_condition=program_pb2.TriggerCondition(
                type="date", attribute_name=self.slug, direction=direction,
                offset=program_pb2.TriggerOffset(days=days, hours=hours, minutes=minutes))), timeout=120)
        return execution_id, program_id, answer.triggers_created

    def end(self, execution_id: str) -> int:
        return self.trigger.EndLiveExecution(trigger_pb2.EndLiveExecutionRequest(execution_id=execution_id),
                                             timeout=30).cancelled

    def triggers(self, program_id: str, status: str = "", limit: int = 1000, cursor: str = ""
                 ) -> trigger_pb2.ListTriggersResponse:
        return self.trigger.ListTriggers(trigger_pb2.ListTriggersRequest(
            organization_id=self.org, program_id=program_id, status=status, limit=limit, cursor=cursor), timeout=30)


def new_live(system: System, slug: str = "due_date") -> Live:
    org = system.create_org(name=f"org-{uuid.uuid4().hex[:6]}")
    audience = audience_pb2_grpc.AudienceServiceStub(system.channel("audience"))
    audience.CreateAttribute(audience_pb2.CreateAttributeRequest(
        organization_id=org.id, name=slug, slug=slug, type="date"), timeout=30)
    audience.CreateAttribute(audience_pb2.CreateAttributeRequest(
        organization_id=org.id, name="note", slug="note", type="text"), timeout=30)
    trigger = trigger_pb2_grpc.TriggerServiceStub(system.channel("trigger"))
    return Live(system, org.id, slug, audience, trigger)


@pytest.fixture(scope="module")
def live_system(system_factory) -> System:
    return system_factory(services=["account", "audience", "trigger"], gateway=False, clock_speed=60)
