"""`outbound serve execution`: gRPC API, orchestrator loop and consumers in one process."""

from __future__ import annotations

from kernel import jetstream
from kernel.clock import get_clock
from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.execution.v1 import execution_pb2, execution_pb2_grpc
from services.execution.adapters import node_counters
from services.execution.adapters.call_gate import CallGates
from services.execution.adapters.contact_caps import ContactCaps
from services.execution.adapters.dial_backlog import DialBacklog
from services.execution.adapters.dial_capacity import DialCapacity
from services.execution.adapters.org_call_rate import OrgCallRate
from services.execution.adapters.org_limits import OrgLimits
from services.execution.adapters.peers import Peers
from services.execution.auto_pause_counting import AutoPauseCounting
from services.execution.change_feed import ChangeFeed
from services.execution.contact_queries import ContactQueries
from services.execution.entrypoints import consumers
from services.execution.entrypoints.grpc import ExecutionServicer
from services.execution.entrypoints.mapping import to_proto
from services.execution.fair_admission import FairAdmission
from services.execution.launch import Launch
from services.execution.lifecycle import Lifecycle
from services.execution.orchestrator import Orchestrator
from services.execution.outbox import Outbox
from services.execution.queries import Queries
from services.execution.results import Results
from services.execution.screening import Screening


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("execution", settings)
    engine = runtime.database()
    js = await runtime.broker()
    peers = Peers(settings)
    runtime.on_close(peers.close)

    redis = node_counters.connect(settings.redis_url)
    runtime.on_close(redis.aclose)

    clock = get_clock()
    counters = node_counters.NodeCounters(redis)
    gates = CallGates(redis)
    counting = AutoPauseCounting(engine, counters, gates, clock)
    outbox = Outbox(engine, js, peers, counters, clock)
    queries = Queries(engine, counters, clock)
    lifecycle = Lifecycle(engine, peers, queries, counting, gates, clock)
    caps = ContactCaps(redis, clock)
    changes = ChangeFeed(engine, js, to_proto)
    servicer = ExecutionServicer(Launch(engine, peers, outbox, clock), queries, lifecycle,
                                 ContactQueries(engine, queries, peers, caps, clock), changes)
    execution_pb2_grpc.add_ExecutionServiceServicer_to_server(servicer, runtime.server)
    runtime.add_services([execution_pb2.DESCRIPTOR.services_by_name["ExecutionService"].full_name])

    # Real seconds: the tick; how long an attempt may stay in progress before it is re-published
    # with the same attempt id (well above the longest call at any clock speed we run); how long
    # a dial request may wait (in the broker, in a dialer) before it can no longer be dialled.
    orchestrator = Orchestrator(engine, js, clock, gates, outbox, counting,
                                tick_seconds=settings.orchestrator_tick_seconds,
                                lease_seconds=settings.lease_seconds,
                                request_ttl_seconds=settings.dial_request_ttl_seconds,
                                backlog=DialBacklog(js, settings.env("DIAL_CONSUMER", jetstream.DIAL_CONSUMER)),
                                backlog_limit=int(settings.env("DISPATCH_BACKLOG_LIMIT", "5000")),
                                screening=Screening(peers, caps),
                                admission=FairAdmission(DialCapacity(redis), OrgCallRate(redis),
                                                        OrgLimits(peers.dispatch_limits)))
    results = Results(engine, counting, gates, clock, on_dispatchable=orchestrator.wake)
    runtime.add_background(orchestrator.run)
    runtime.add_background(orchestrator.run_deferred_counting)
    # Real seconds between passes of the status change publisher (a full batch goes on at once).
    runtime.add_background(lambda: changes.run_publisher(float(settings.env("STATUS_PUBLISH_SECONDS", "0.2"))))
    runtime.add_background(changes.run_trim)
    runtime.add_background(consumers.call_results(js, results))
    runtime.add_background(consumers.triggers_fired(js, results))
    runtime.add_background(consumers.programs_archived(js, lifecycle))
    await runtime.run()
