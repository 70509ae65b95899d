"""`outbound serve trigger`: TriggerService, the evaluation loop, the sweeper and two consumers."""

from __future__ import annotations

from kernel.clock import get_clock
from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from services.trigger.adapters.audience import AudienceClient
from services.trigger.adapters.publisher import FiredPublisher
from services.trigger.entrypoints.consumers import ContactChangesConsumer, ExecutionEndedConsumer
from services.trigger.entrypoints.grpc import TriggerServicer
from services.trigger.entrypoints.loops import evaluate_forever, sweep_forever
from services.trigger.service import TriggerService


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("trigger", settings)
    engine = runtime.database()
    js = await runtime.broker()
    audience = AudienceClient(settings.address("audience"))
    runtime.on_close(audience.close)

    service = TriggerService(engine, audience, FiredPublisher(js), get_clock(),
                             publish_lease_seconds=settings.trigger_publish_lease_seconds)
    trigger_pb2_grpc.add_TriggerServiceServicer_to_server(TriggerServicer(service), runtime.server)
    runtime.add_services([trigger_pb2.DESCRIPTOR.services_by_name["TriggerService"].full_name])

    contacts = ContactChangesConsumer(js, service)
    ended = ExecutionEndedConsumer(js, service)

    async def evaluation_loop() -> None:
        await evaluate_forever(service)

    async def publish_sweeper() -> None:
        await sweep_forever(service)

    runtime.add_background(evaluation_loop)
    runtime.add_background(publish_sweeper)
    runtime.add_background(contacts.run)
    runtime.add_background(ended.run)
    await runtime.run()
