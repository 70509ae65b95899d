"""`outbound serve account`: the account gRPC server."""

from __future__ import annotations

from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.account.v1 import account_pb2, account_pb2_grpc
from services.account.batches import ReservationBatches
from services.account.entrypoints.grpc import AccountServicer
from services.account.service import AccountService


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("account", settings)
    engine = runtime.database()
    servicer = AccountServicer(AccountService(engine), ReservationBatches(engine))
    account_pb2_grpc.add_AccountServiceServicer_to_server(servicer, runtime.server)
    runtime.add_services([account_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name])
    await runtime.run()
