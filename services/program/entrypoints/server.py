"""`outbound serve program`: the program gRPC server."""

from __future__ import annotations

from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.program.v1 import program_pb2, program_pb2_grpc
from services.program.adapters.events import ProgramEvents
from services.program.adapters.peers import Peers
from services.program.entrypoints.grpc import ProgramServicer
from services.program.service import ProgramService


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("program", settings)
    engine = runtime.database()
    js = await runtime.broker()
    peers = Peers(settings)
    runtime.on_close(peers.close)
    service = ProgramService(engine, peers, ProgramEvents(js))
    program_pb2_grpc.add_ProgramServiceServicer_to_server(ProgramServicer(service), runtime.server)
    runtime.add_services([program_pb2.DESCRIPTOR.services_by_name["ProgramService"].full_name])
    await runtime.run()
