"""The dialer process: DialerService + FlowService over gRPC, the dial consumer, the sweeper."""

from __future__ import annotations

import os
import socket
import uuid

from redis.asyncio import BlockingConnectionPool, Redis

from kernel.grpc_server import ServiceRuntime
from kernel.settings import Settings
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from services.dialer.adapters.audio_store import AudioRepository
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.adapters.capacity_beacon import CapacityBeacon
from services.dialer.adapters.carrier import Carrier, make_carrier
from services.dialer.adapters.did_repository import DidRepository
from services.dialer.adapters.did_slots import DidSlots
from services.dialer.adapters.flow_repository import FlowRepository
from services.dialer.adapters.peers import Accounts
from services.dialer.adapters.publisher import ResultPublisher
from services.dialer.adapters.sip_carrier import SipCarrier
from services.dialer.adapters.sip_pool import LINES
from services.dialer.entrypoints.dial_consumer import ConsumerOptions, DialConsumer, sweep_forever
from services.dialer.entrypoints.grpc import DialerServicer, FlowServicer
from services.dialer.placement import Placement
from services.dialer.recovery import Recovery
from services.dialer.service import AudioLibrary, CallHistory, DidService, FlowService
from services.dialer.settlement import Settlement

REDIS_CONNECTIONS = 128  # per dialer process; more callers wait for one

# Real seconds a dialer's claim on a call stays valid without a heartbeat; a dialer that
# dies (or stalls) mid-call has its call recorded as unknown once this has passed.
CALL_LEASE_SECONDS = 60.0
# Real seconds the credit reservation of an unknown call is kept for its real result (a stalled
# dialer that comes back with an answered call still charges it); then it is released.
UNKNOWN_SETTLE_SECONDS = 600.0
# Real seconds this replica's announced channels count without a new announcement (one per
# heartbeat, at most 5 s apart): a dialer that dies drops out of the shared total by then.
CAPACITY_TTL_SECONDS = 15.0


def announced_channels(carrier: Carrier, max_channels: int) -> int:
    """The calls this replica can carry at once: its consumer's channels, or fewer when the SIP
    line pool holds fewer calls (the rest would only wait for a line)."""
    if isinstance(carrier, SipCarrier):
        return min(max_channels, len(carrier.pool.workers) * LINES)
    return max_channels


async def main(settings: Settings) -> None:
    runtime = ServiceRuntime("dialer", settings)
    engine = runtime.database()

    dids = DidRepository(engine)
    flows = FlowRepository(engine)
    calls = CallRepository(engine)
    dialer_pb2_grpc.add_DialerServiceServicer_to_server(
        DialerServicer(DidService(dids), CallHistory(calls)), runtime.server)
    audio = AudioRepository(engine)
    dialer_pb2_grpc.add_FlowServiceServicer_to_server(
        FlowServicer(FlowService(flows, audio), AudioLibrary(audio)), runtime.server)
    runtime.add_services([dialer_pb2.DESCRIPTOR.services_by_name["DialerService"].full_name,
                          dialer_pb2.DESCRIPTOR.services_by_name["FlowService"].full_name])

    js = await runtime.broker()

    # Calls that start together (a wave of SIP calls) wait for a free connection rather than
    # failing past the pool's size, as redis-py's default pool does.
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=REDIS_CONNECTIONS, timeout=20))
    runtime.on_close(redis.aclose)
    accounts = Accounts(settings.address("account"))
    runtime.on_close(accounts.close)

    # Built (configuration checked whole) and started before anything serves calls.
    carrier = make_carrier(settings, redis)
    await carrier.start()
    runtime.on_close(carrier.close)

    lease = float(settings.env("DIALER_CALL_LEASE_SECONDS", str(CALL_LEASE_SECONDS)))
    publisher = ResultPublisher(js)
    settlement = Settlement(calls=calls, accounts=accounts)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    placement = Placement(
        calls=calls, dids=dids, flows=flows,
        slots=DidSlots(redis, lease_seconds=lease),
        accounts=accounts, carrier=carrier, publisher=publisher, settlement=settlement,
        owner=owner,
        did_cap=int(settings.env("DID_MAX_CONCURRENT_CALLS", "50")),
        lease_seconds=lease,
    )
    recovery = Recovery(
        calls=calls, publisher=publisher, settlement=settlement,
        unknown_settle_seconds=float(settings.env("DIALER_UNKNOWN_SETTLE_SECONDS", str(UNKNOWN_SETTLE_SECONDS))),
        owner=owner,
    )
    # Heartbeats come several times per lease, so one missed beat loses nothing.
    beat = max(0.2, min(5.0, lease / 4))
    options = ConsumerOptions(max_channels=int(settings.env("DIALER_MAX_CHANNELS", "500")), heartbeat_seconds=beat,
                              ack_wait_seconds=max(30.0, beat * 6),
                              shutdown_grace_seconds=settings.grace_seconds)
    beacon = CapacityBeacon(redis, replica_id=owner, channels=announced_channels(carrier, options.max_channels),
                            ttl_seconds=max(CAPACITY_TTL_SECONDS, 3 * beat))
    consumer = DialConsumer(js, placement, options, beacon)

    async def consume() -> None:
        await consumer.run()

    async def sweep() -> None:
        await sweep_forever(recovery, interval=beat)

    runtime.add_background(consume)
    runtime.add_background(carrier.run_until_stopped)
    runtime.add_background(sweep)
    await runtime.run()
