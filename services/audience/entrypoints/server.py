"""`outbound serve audience`: the audience gRPC server, its outbox relays and the opt-out consumer."""

from __future__ import annotations

from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from services.audience.adapters.events import EventPublisher
from services.audience.adapters.import_events import ImportEventRelay
from services.audience.adapters.range_reader import RangeReader
from services.audience.attributes import Attributes
from services.audience.audiences import Audiences
from services.audience.contacts import Contacts
from services.audience.dnc import DoNotCall
from services.audience.entrypoints.consumers import OptOutConsumer
from services.audience.entrypoints.grpc import AudienceServicer
from services.audience.imports import SWEEP_EVERY_SECONDS, ContactImports
from services.audience.membership import Membership


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("audience", settings)
    engine = runtime.database()
    js = await runtime.broker()
    publisher = EventPublisher(engine, js)
    reader = RangeReader(engine)
    dnc = DoNotCall(engine)
    imports = ContactImports(engine, float(settings.env("IMPORT_SWEEP_SECONDS", str(SWEEP_EVERY_SECONDS))))
    servicer = AudienceServicer(Attributes(engine, reader), Contacts(engine, publisher), Audiences(engine),
                                Membership(engine, reader), dnc, imports)
    audience_pb2_grpc.add_AudienceServiceServicer_to_server(servicer, runtime.server)
    runtime.add_services([audience_pb2.DESCRIPTOR.services_by_name["AudienceService"].full_name])
    runtime.add_background(publisher.relay_forever)
    runtime.add_background(ImportEventRelay(engine, js).relay_forever)
    runtime.add_background(OptOutConsumer(js, dnc).run)
    runtime.add_background(imports.sweep_forever)
    await runtime.run()
