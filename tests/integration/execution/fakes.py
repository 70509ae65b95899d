"""In-process stand-ins for the services the execution service calls, and a scripted dialer.

They speak the real gRPC and JetStream contracts; PostgreSQL and NATS stay real.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from concurrent import futures
from dataclasses import dataclass, field

import grpc

from kernel import errors, jetstream
from kernel.timefmt import iso
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from outbound.dialer.v1 import events_pb2 as dialer_events
from outbound.execution.v1 import events_pb2 as execution_events
from outbound.program.v1 import program_pb2, program_pb2_grpc
from outbound.trigger.v1 import trigger_pb2, trigger_pb2_grpc
from outbound_cli.devservers import free_port
from services.execution.domain.errors import ProgramNotFoundError
from tests.support.system import HANG_GUARD_SECONDS
from tests.support.tls import add_port

# The audience context's public error, as its service would answer it (named, not imported).
AudienceNotFoundError = errors.named(errors.NotFoundError, "AudienceNotFoundError", "Audience not found")


def _abort(context, err: errors.DomainError):
    context.abort_with_status(_Status(err))


class _Status(grpc.Status):
    def __init__(self, err: errors.DomainError):
        self.code = err.code
        self.details = err.message
        self.trailing_metadata = errors.to_trailing_metadata(err)


@dataclass
class World:
    programs: dict[str, program_pb2.Program] = field(default_factory=dict)
    audiences: dict[str, list[audience_pb2.ContactRef]] = field(default_factory=dict)
    dids: dict[str, dialer_pb2.Did] = field(default_factory=dict)
    flow_nodes: list[str] = field(default_factory=lambda: ["welcome", "menu", "bye"])
    marked_active: list[str] = field(default_factory=list)
    live_started: list[str] = field(default_factory=list)
    live_ended: list[str] = field(default_factory=list)
    fail_live_start: bool = False
    fail_mark_active: bool = False
    dnc: dict[str, set[str]] = field(default_factory=dict)  # organization id → listed numbers
    contact_limits: dict[str, tuple[int, int]] = field(default_factory=dict)  # org → (max attempts, per days)
    dnc_checks: int = 0
    fail_dnc: bool = False  # CheckDnc answers UNAVAILABLE


class ProgramFake(program_pb2_grpc.ProgramServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def GetProgram(self, request, context):
        program = self.world.programs.get(request.program_id)
        if program is None or program.organization_id != request.organization_id or (
                program.status == "archived" and not request.include_archived):
            _abort(context, ProgramNotFoundError())
        return program

    def MarkProgramActive(self, request, context):
        if self.world.fail_mark_active:
            _abort(context, errors.UnavailableError("program store down"))
        program = self.world.programs[request.program_id]
        if program.status == "draft":
            program.status = "active"
        self.world.marked_active.append(request.program_id)
        return program


class AudienceFake(audience_pb2_grpc.AudienceServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def StreamAudienceContacts(self, request, context):
        if request.audience_id not in self.world.audiences:
            _abort(context, AudienceNotFoundError())
        contacts = self.world.audiences[request.audience_id]
        size = request.batch_size or 1000
        for i in range(0, len(contacts), size):
            yield audience_pb2.ContactBatch(contacts=contacts[i:i + size])

    def CheckDnc(self, request, context):
        self.world.dnc_checks += 1
        if self.world.fail_dnc:
            _abort(context, errors.UnavailableError("dnc store down"))
        listed = self.world.dnc.get(request.organization_id, set())
        return audience_pb2.CheckDncResponse(listed=[p for p in request.phones if p in listed])


class AccountFake(account_pb2_grpc.AccountServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def GetContactLimits(self, request, context):
        limits = self.world.contact_limits.get(request.organization_id)
        if limits is None:
            return account_pb2.GetContactLimitsResponse()
        return account_pb2.GetContactLimitsResponse(
            limits=account_pb2.ContactLimits(max_attempts=limits[0], per_days=limits[1]))


class DialerFake(dialer_pb2_grpc.DialerServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def ResolveDids(self, request, context):
        return dialer_pb2.ListDidsResponse(dids=[self.world.dids[i] for i in request.did_ids if i in self.world.dids])


class FlowFake(dialer_pb2_grpc.FlowServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def GetFlow(self, request, context):
        return dialer_pb2.Flow(id=request.flow_id, organization_id=request.organization_id,
                               nodes=[dialer_pb2.FlowNode(id=n, type="say") for n in self.world.flow_nodes])


class TriggerFake(trigger_pb2_grpc.TriggerServiceServicer):
    def __init__(self, world: World):
        self.world = world

    def StartLiveExecution(self, request, context):
        if self.world.fail_live_start:
            _abort(context, errors.UnavailableError("trigger store down"))
        self.world.live_started.append(request.execution_id)
        return trigger_pb2.StartLiveExecutionResponse(triggers_created=0)

    def EndLiveExecution(self, request, context):
        self.world.live_ended.append(request.execution_id)
        return trigger_pb2.EndLiveExecutionResponse(cancelled=0)


class Peers:
    """One gRPC server per peer service, on its own port."""

    def __init__(self, world: World):
        self.world = world
        self.servers: list[grpc.Server] = []
        self.addresses: dict[str, str] = {}

    def start(self) -> Peers:
        adders = {
            "program": [(program_pb2_grpc.add_ProgramServiceServicer_to_server, ProgramFake)],
            "audience": [(audience_pb2_grpc.add_AudienceServiceServicer_to_server, AudienceFake)],
            "dialer": [(dialer_pb2_grpc.add_DialerServiceServicer_to_server, DialerFake),
                       (dialer_pb2_grpc.add_FlowServiceServicer_to_server, FlowFake)],
            "trigger": [(trigger_pb2_grpc.add_TriggerServiceServicer_to_server, TriggerFake)],
            "account": [(account_pb2_grpc.add_AccountServiceServicer_to_server, AccountFake)],
        }
        for name, pairs in adders.items():
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
            for add, cls in pairs:
                add(cls(self.world), server)
            port = free_port()
            add_port(server, name, f"127.0.0.1:{port}")  # with mTLS: as the service it stands in for
            server.start()
            self.servers.append(server)
            self.addresses[f"{name.upper()}_ADDR"] = f"127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop(0)


class ScriptedDialer:
    """Answers dial.requested like the dialer would, from a script, in a thread of its own.

    outcomes[phone] lists the outcome of attempt 1, 2, ... (the last one repeats);
    `hold` keeps an execution's calls open until released; `reject[execution] = reason`
    answers call.rejected instead.
    """

    def __init__(self, nats_url: str, clock, durable: str = "scripted-dialer"):
        self.nats_url = nats_url
        self.clock = clock
        self.durable = durable
        self.outcomes: dict[str, list[str]] = {}
        self.hold: set[str] = set()
        self.reject: dict[str, str] = {}
        self.requests: list[tuple[execution_events.DialRequested, object]] = []
        self.calls_by_attempt: dict[str, int] = defaultdict(int)
        self._held: list[execution_events.DialRequested] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop = asyncio.Event()
        self.lock = threading.Lock()

    def start(self) -> ScriptedDialer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._connect(), self._loop).result(HANG_GUARD_SECONDS)
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)
        return self

    async def _connect(self) -> None:
        self.nc = await jetstream.connect(self.nats_url, "scripted-dialer")
        self.js = self.nc.jetstream()
        await jetstream.ensure_streams(self.js)

    async def _run(self) -> None:
        spec = jetstream.ConsumerSpec(stream="DIAL", durable=self.durable, filter_subject="dial.requested",
                                      batch_size=200, fetch_timeout=0.2)

        async def handle(msgs):
            for msg in msgs:
                request = execution_events.DialRequested.FromString(msg.data)
                with self.lock:
                    self.requests.append((request, self.clock.now()))
                    self.calls_by_attempt[request.attempt_id] += 1
                    held = request.execution_id in self.hold
                    if held:
                        self._held.append(request)
                if not held:
                    await self._answer(request)

        await jetstream.run_pull_consumer(self.js, spec, handle, self._stop)

    async def _answer(self, request) -> None:
        reason = self.reject.get(request.execution_id)
        if reason:
            result = dialer_events.CallResult(
                attempt_id=request.attempt_id, execution_id=request.execution_id,
                organization_id=request.organization_id, contact_id=request.contact_id, attempt=request.attempt,
                outcome="rejected", reason=reason)
            subject = "call.rejected"
        else:
            script = self.outcomes.get(request.phone, ["answered"])
            outcome = script[min(request.attempt, len(script)) - 1]
            now = iso(self.clock.now())
            result = dialer_events.CallResult(
                attempt_id=request.attempt_id, execution_id=request.execution_id,
                organization_id=request.organization_id, contact_id=request.contact_id, attempt=request.attempt,
                outcome=outcome, did_id=request.did_pool[0], started_at=now, ended_at=now)
            subject = "call.completed"
        await jetstream.publish(self.js, subject, result.SerializeToString(), f"{subject}:{request.attempt_id}")

    def release(self, execution_id: str) -> None:
        with self.lock:
            self.hold.discard(execution_id)
            held = [r for r in self._held if r.execution_id == execution_id]
            self._held = [r for r in self._held if r.execution_id != execution_id]
        for request in held:
            asyncio.run_coroutine_threadsafe(self._answer(request), self._loop).result(HANG_GUARD_SECONDS)

    def publish(self, subject: str, payload: bytes, msg_id: str) -> None:
        asyncio.run_coroutine_threadsafe(jetstream.publish(self.js, subject, payload, msg_id), self._loop).result(HANG_GUARD_SECONDS)

    def requests_for(self, execution_id: str):
        with self.lock:
            return [(r, t) for r, t in self.requests if r.execution_id == execution_id]

    def stop(self) -> None:
        async def close():
            self._stop.set()
            await asyncio.sleep(0.3)
            await self.nc.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(HANG_GUARD_SECONDS)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(HANG_GUARD_SECONDS)
