"""The execution service alone, against real PostgreSQL and NATS, with stand-in peers."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from datetime import timedelta

import grpc
import psycopg
import pytest

from kernel import errors
from kernel.timefmt import iso
from outbound.audience.v1 import audience_pb2
from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2_grpc
from outbound.program.v1 import program_pb2
from tests.integration.execution.fakes import Peers, ScriptedDialer, World

ORG = str(uuid.uuid4())
_phones = itertools.count(1)


@pytest.fixture(scope="module")
def world():
    return World()


@contextlib.contextmanager
def execution_alone(system_factory, world: World, dialer=ScriptedDialer, lease_seconds: int = 3):
    """The execution service with stand-in peers and a stand-in dialer (`dialer`, a class)."""
    peers = Peers(world).start()
    system = system_factory(services=["execution"], gateway=False, clock_speed=60,
                            extra_env={**peers.addresses, "LEASE_SECONDS": str(lease_seconds)})
    started = dialer(system.nats_url, system.clock).start()
    system.peers, system.dialer, system.world = peers, started, world
    try:
        yield system
    finally:
        started.stop()
        peers.stop()


@pytest.fixture(scope="module")
def exec_system(system_factory, world):
    with execution_alone(system_factory, world) as system:
        yield system


class Api:
    """Synchronous ExecutionService client raising the service's domain errors."""

    def __init__(self, system):
        self.channel = system.channel("execution")
        self.stub = execution_pb2_grpc.ExecutionServiceStub(self.channel)

    def __getattr__(self, name):
        method = getattr(self.stub, name)

        def invoke(request):
            try:
                return method(request, timeout=60)
            except grpc.RpcError as exc:
                raise errors.from_rpc_error(exc) from None

        return invoke


@pytest.fixture(scope="module")
def api(exec_system):
    client = Api(exec_system)
    yield client
    client.channel.close()


@pytest.fixture(scope="module")
def db(exec_system):
    with psycopg.connect(exec_system.database_url, autocommit=True,
                         options="-csearch_path=execution") as conn:
        yield conn


def add_did(world: World, *, deleted: bool = False, status: str = "active") -> str:
    did_id = str(uuid.uuid4())
    world.dids[did_id] = dialer_pb2.Did(id=did_id, number=f"+2125{next(_phones):08d}", country="MA",
                                        status=status, deleted=deleted)
    return did_id


def make_program(system, n: int = 3, *, retry: dict | None = None, mode: str = "batch", start_in=None,
                 stop_in=None, pause_windows: dict | None = None, max_concurrent: int = 10,
                 dids: list[str] | None = None, phones: list[str] | None = None,
                 rules: list[dict] | None = None, status: str = "draft") -> program_pb2.Program:
    world: World = system.world
    now = system.clock.now()
    program_id, audience_id = str(uuid.uuid4()), str(uuid.uuid4())
    phones = phones or [f"+2126{next(_phones):08d}" for _ in range(n)]
    world.audiences[audience_id] = [
        audience_pb2.ContactRef(contact_id=str(uuid.uuid4()), phone=p, country="MA") for p in phones]
    program = program_pb2.Program(
        id=program_id, name="p", mode=mode, organization_id=ORG, audience_id=audience_id,
        flow_id=str(uuid.uuid4()), status=status, start_at=iso(now + (start_in or timedelta(0))),
        stop_at=iso(now + stop_in) if stop_in is not None else "", timezone="UTC",
        max_concurrent_calls=max_concurrent)
    for did in dids if dids is not None else [add_did(world)]:
        program.did_pool.add(id=did, number="+212500000000", country="MA")
    from google.protobuf import json_format

    json_format.ParseDict(retry or {"type": "none"}, program.retry_strategy)
    if pause_windows is not None:
        json_format.ParseDict(pause_windows, program.pause_windows)
    if rules is not None:
        json_format.ParseDict({"rules": rules}, program.auto_pause_rules)
    if mode == "live":
        program.trigger_condition.CopyFrom(program_pb2.TriggerCondition(
            type="date", attribute_name="due", direction="before"))
    world.programs[program_id] = program
    return program
