"""Driving the dialer as the execution service does: DialRequested in, CallResult out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from redis.asyncio import Redis

from kernel import call_gate, errors, jetstream
from kernel.timefmt import parse_iso
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc, events_pb2
from outbound.execution.v1 import events_pb2 as execution_events
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.adapters.did_repository import DidRepository
from services.dialer.adapters.did_slots import DidSlots
from services.dialer.adapters.flow_repository import FlowRepository
from services.dialer.adapters.publisher import ResultPublisher
from services.dialer.placement import Placement
from services.dialer.settlement import Settlement
from tests.support.system import HANG_GUARD_SECONDS

MENU_FLOW = dialer_pb2.CreateFlowRequest(name="Menu", start_node_id="welcome", nodes=[
    dialer_pb2.FlowNode(id="welcome", type="say", text="Hello", next="menu"),
    dialer_pb2.FlowNode(id="menu", type="gather", prompt="Press 1", options={"1": "confirm"},
                        timeout_seconds=5, no_input="bye"),
    dialer_pb2.FlowNode(id="confirm", type="say", text="Thanks", next="bye"),
    dialer_pb2.FlowNode(id="bye", type="hangup"),
])


def rpc(method, request):
    try:
        return method(request, timeout=30)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


class Stubs:
    def __init__(self, system):
        self._channels = [system.channel("dialer"), system.channel("account")]
        self.dialer = dialer_pb2_grpc.DialerServiceStub(self._channels[0])
        self.flows = dialer_pb2_grpc.FlowServiceStub(self._channels[0])
        self.account = account_pb2_grpc.AccountServiceStub(self._channels[1])

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    def org(self, credits: int = 1000) -> str:
        return rpc(self.account.CreateOrganization, account_pb2.CreateOrganizationRequest(
            name="Org", credits=credits)).organization.id

    def credits(self, org: str) -> account_pb2.CreditBalance:
        return rpc(self.account.GetCredits, account_pb2.GetCreditsRequest(organization_id=org)).credits

    def flow(self, org: str, request: dialer_pb2.CreateFlowRequest = MENU_FLOW) -> str:
        req = dialer_pb2.CreateFlowRequest()
        req.CopyFrom(request)
        req.organization_id = org
        return rpc(self.flows.CreateFlow, req).id

    def did(self, number: str, country: str = "MA", org: str | None = None, inactive: bool = False) -> str:
        req = dialer_pb2.AddDidRequest(number=number, country=country, inactive=inactive)
        if org:
            req.organization_id = org
        return rpc(self.dialer.AddDid, req).id

    def calls(self, org: str, execution_id: str) -> list[dialer_pb2.CallRecord]:
        return list(rpc(self.dialer.ListCalls, dialer_pb2.ListCallsRequest(
            organization_id=org, execution_id=execution_id, page_size=1000)).calls)


async def wait_for(predicate: Callable[[], Any], timeout: float = HANG_GUARD_SECONDS, what: str = "condition") -> Any:
    """Poll predicate() until truthy (without blocking the event loop); answers its value. The
    timeout only stops a hang (HANG_GUARD_SECONDS): what a test waits for takes what the machine needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Bus:
    """A JetStream connection that publishes dial requests and collects every call result; it
    opens the call gate of each request's execution first, as the execution service does."""

    def __init__(self, nats_url: str, redis_url: str):
        self.nats_url = nats_url
        self.redis = Redis.from_url(redis_url)
        self.results: list[tuple[str, events_pb2.CallResult]] = []

    async def __aenter__(self) -> Bus:
        self.nc = await jetstream.connect(self.nats_url, "dialer-test")
        self.js = self.nc.jetstream()
        await jetstream.ensure_streams(self.js)

        async def collect(msg) -> None:
            self.results.append((msg.subject, events_pb2.CallResult.FromString(msg.data)))

        self.sub = await self.js.subscribe("call.>", cb=collect, ordered_consumer=True)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.sub.unsubscribe()
        await self.nc.drain()
        await self.redis.aclose()

    async def gate(self, execution_id: str, is_open: bool, version: int = 1) -> None:
        await self.redis.set(call_gate.key(execution_id), call_gate.value(version, is_open))

    async def dial(self, request: execution_events.DialRequested, msg_id: str | None = None,
                   open_gate: bool = True) -> None:
        """Publish; msg_id defaults to the attempt id, as the execution service does."""
        if open_gate:
            await self.gate(request.execution_id, True)
        await jetstream.publish(self.js, "dial.requested", request.SerializeToString(),
                                msg_id or request.attempt_id)

    def of(self, attempt_id: str, subject: str | None = None) -> list[events_pb2.CallResult]:
        return [r for s, r in self.results if r.attempt_id == attempt_id and (subject is None or s == subject)]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = HANG_GUARD_SECONDS,
                       what: str = "results") -> Any:
        return await wait_for(predicate, timeout, f"{what}; results so far: {self.results!r}")

    async def one(self, attempt_id: str, subject: str = "call.completed", timeout: float = HANG_GUARD_SECONDS):
        found = await self.wait_for(lambda: self.of(attempt_id, subject), timeout, f"{subject} of {attempt_id}")
        return found[0]


def dialer_system(system_factory, sim_rules: dict, did_cap: int):
    """The dialer with the account service, at 600x; yields (system, stubs)."""
    system = system_factory(services=["account", "dialer"], gateway=False, sim_rules=sim_rules,
                            clock_speed=600, extra_env={"DID_MAX_CONCURRENT_CALLS": str(did_cap)})
    stubs = Stubs(system)
    yield system, stubs
    stubs.close()


def new_world(dialer) -> tuple:
    """A fresh organization with credits, the menu flow and one MA DID of its own."""
    system, stubs = dialer
    org = stubs.org(credits=1000)
    did = stubs.did(f"+21252{uuid.uuid4().int % 10_000_000:07d}", "MA", org=org)
    return system, stubs, org, stubs.flow(org), did


def dial_request(org: str, flow_id: str, pool: list[str], phone: str, *, attempt: int = 1,
                 execution_id: str | None = None, contact_id: str | None = None,
                 country: str = "MA") -> execution_events.DialRequested:
    execution_id = execution_id or str(uuid.uuid4())
    contact_id = contact_id or str(uuid.uuid4())
    return execution_events.DialRequested(
        attempt_id=f"{execution_id}:{contact_id}:{attempt}", execution_id=execution_id, organization_id=org,
        program_id=str(uuid.uuid4()), contact_id=contact_id, phone=phone, country=country, attempt=attempt,
        flow_id=flow_id, did_pool=pool, requested_at="2025-12-20T09:00:00.000Z")


def seconds_between(a: str, b: str) -> float:
    return (parse_iso(b) - parse_iso(a)).total_seconds()


async def settled(stubs: Stubs, org: str, timeout: float = HANG_GUARD_SECONDS) -> account_pb2.CreditBalance:
    """The organization's credits once no reservation is left: a call's result is published
    before its charge, so a test that reads the balance waits for the settlement."""
    deadline = time.monotonic() + timeout
    while True:
        credits = stubs.credits(org)
        if not credits.reserved or time.monotonic() >= deadline:
            return credits
        await asyncio.sleep(0.05)


def in_process_placement(engine, redis, accounts, bus: Bus, carrier) -> Placement:
    """A placement in the test's own process, on the system's servers, with the test's carrier."""
    calls = CallRepository(engine)
    return Placement(
        calls=calls, dids=DidRepository(engine), flows=FlowRepository(engine),
        slots=DidSlots(redis, lease_seconds=60), accounts=accounts, carrier=carrier,
        publisher=ResultPublisher(bus.js), settlement=Settlement(calls=calls, accounts=accounts),
        owner="test-placement", did_cap=5, lease_seconds=60)


def number(prefix: str, length: int = 12) -> str:
    """A unique E.164 number starting with prefix (`length` digits after +; 12 in Morocco)."""
    digits = prefix.lstrip("+")
    rest = length - len(digits)
    return f"+{digits}{uuid.uuid4().int % 10**rest:0{rest}d}"
