"""`outbound serve execution`: gRPC API, orchestrator loop and consumers in one process."""

from __future__ import annotations

import os

from kernel import db, jetstream
from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.execution.v1 import execution_pb2, execution_pb2_grpc
from services.execution.adapters import node_counters
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.clients import Clients
from services.execution.entrypoints import consumers
from services.execution.entrypoints.grpc import ExecutionServicer
from services.execution.orchestrator import Orchestrator
from services.execution.service import ExecutionService

# Real seconds an attempt may stay in progress before it is re-published with the same
# attempt id; well above the longest call at any clock speed we run.
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_TICK_SECONDS = 0.2
# Real seconds a dial request may wait (in the broker, in a dialer) before it can no longer be dialled.
DEFAULT_DIAL_REQUEST_TTL_SECONDS = 30.0


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("execution", settings)
    engine = db.create_engine(settings.database_url, "execution", pool_size=settings.db_pool_size)
    runtime.on_close(engine.dispose)
    nc = await jetstream.connect(settings.nats_url, "execution")
    js = nc.jetstream()
    await jetstream.ensure_streams(js)
    runtime.on_close(lambda: jetstream.close(nc))
    clients = Clients(settings)
    runtime.on_close(clients.close)

    redis = node_counters.connect(settings.redis_url)
    runtime.on_close(redis.aclose)

    service = ExecutionService(engine, js, clients, counters=node_counters.NodeCounters(redis),
                               gates=CallGates(redis))
    execution_pb2_grpc.add_ExecutionServiceServicer_to_server(ExecutionServicer(service), runtime.server)
    runtime.add_services([execution_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name])

    orchestrator = Orchestrator(
        service,
        tick_seconds=float(os.environ.get("ORCHESTRATOR_TICK_SECONDS") or DEFAULT_TICK_SECONDS),
        lease_seconds=float(os.environ.get("LEASE_SECONDS") or DEFAULT_LEASE_SECONDS),
        request_ttl_seconds=float(os.environ.get("DIAL_REQUEST_TTL_SECONDS") or DEFAULT_DIAL_REQUEST_TTL_SECONDS),
    )
    service.on_dispatchable = orchestrator.wake
    runtime.add_background(orchestrator.run)
    runtime.add_background(orchestrator.run_deferred_counting)
    runtime.add_background(consumers.call_results(js, service))
    runtime.add_background(consumers.triggers_fired(js, service))
    runtime.add_background(consumers.programs_archived(js, service))
    await runtime.run()
