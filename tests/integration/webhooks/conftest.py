"""The webhooks service alone against real PostgreSQL and NATS, fed by messages the tests publish
on the real streams, delivering to real HTTP receivers on loopback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import nats
import pytest

from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import events_pb2 as execution_events
from outbound.execution.v1 import execution_pb2
from outbound.webhooks.v1 import webhooks_pb2 as pb
from outbound.webhooks.v1 import webhooks_pb2_grpc
from tests.support.system import HANG_GUARD_SECONDS, System
from tests.support.webhook_receiver import Receiver

# Real seconds: small enough that a test sees several retries and the horizon.
RETRY_BASE_SECONDS = 1.0
RETRY_HORIZON_SECONDS = 8.0


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["webhooks"], gateway=False, extra_env={
        "WEBHOOK_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
        "WEBHOOK_RETRY_HORIZON_SECONDS": str(RETRY_HORIZON_SECONDS)})


@pytest.fixture(scope="module")
def stub(system) -> Iterator[webhooks_pb2_grpc.WebhookServiceStub]:
    channel = system.channel("webhooks")
    yield webhooks_pb2_grpc.WebhookServiceStub(channel)
    channel.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def new_org() -> str:
    return str(uuid.uuid4())


def create(stub, org: str, url: str, events: list[str]) -> pb.CreateWebhookResponse:
    return stub.CreateWebhook(pb.CreateWebhookRequest(organization_id=org, url=url, events=events))


def deliveries(stub, org: str, webhook_id: str, status: str = "") -> list[pb.Delivery]:
    return list(stub.ListDeliveries(pb.ListDeliveriesRequest(organization_id=org, webhook_id=webhook_id,
                                                             status=status, limit=1000)).deliveries)


def publish(system: System, subject: str, payload: bytes, msg_id: str | None = None) -> None:
    async def send() -> None:
        nc = await nats.connect(system.nats_url)
        try:
            await nc.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": msg_id or str(uuid.uuid4())},
                                         timeout=HANG_GUARD_SECONDS)
        finally:
            await nc.close()

    asyncio.run(send())


def status_changed(org: str, execution_id: str, seq: int, previous: str, status: str) -> bytes:
    execution = execution_pb2.Execution(id=execution_id, program_id="p-1", organization_id=org, status=status,
                                        total_contacts=3, contacts_completed=1, contacts_pending=2)
    return execution_events.ExecutionStatusChanged(
        seq=seq, execution_id=execution_id, program_id="p-1", organization_id=org, previous_status=previous,
        status=status, occurred_at="2026-01-05T10:00:00.000Z", execution=execution).SerializeToString()


def call_result(org: str, attempt_id: str, *, opted_out: bool = False) -> bytes:
    execution_id, contact_id, attempt = attempt_id.split(":")
    return dialer_events.CallResult(
        attempt_id=attempt_id, execution_id=execution_id, organization_id=org, contact_id=contact_id,
        attempt=int(attempt), outcome="answered", did_number="+212500000001", started_at="2026-01-05T10:00:00.000Z",
        answered_at="2026-01-05T10:00:02.000Z", ended_at="2026-01-05T10:00:30.000Z", talk_seconds=28,
        node_ids=["welcome", "bye"], phone="+212600000001", opted_out=opted_out).SerializeToString()
