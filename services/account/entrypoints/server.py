"""`outbound serve account`: the account gRPC server."""

from __future__ import annotations

from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.account.v1 import account_pb2, account_pb2_grpc
from services.account.batches import ReservationBatches
from services.account.domain.dispatch_limits import defaults_from
from services.account.entrypoints.grpc import AccountServicer
from services.account.service import AccountService


async def main(settings: Settings) -> None:
    dispatch_defaults = defaults_from(settings.env)  # a bad ORG_* value stops the start here
    runtime = ServiceRuntime("account", settings)
    engine = runtime.database()
    service = AccountService(engine, dispatch_defaults=dispatch_defaults)
    servicer = AccountServicer(service, ReservationBatches(engine))
    account_pb2_grpc.add_AccountServiceServicer_to_server(servicer, runtime.server)
    runtime.add_services([account_pb2.DESCRIPTOR.services_by_name["AccountService"].full_name])
    await runtime.run()
