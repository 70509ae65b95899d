"""The whole of Outbound as separate processes, driven through REST like a client would."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx

from kernel import callers, rpc, tls
from kernel import settings as settings_module
from kernel.clock import Clock
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from outbound_cli.devservers import Postgres, free_port
from outbound_cli.supervisor import SERVICES, ProcessGroup
from tests.support import tls as test_tls
from tests.support.infra import Infra

DEFAULT_FLOW = {
    "name": "Reminder",
    "startNodeId": "welcome",
    "nodes": [
        {"id": "welcome", "type": "say", "text": "Hello", "next": "menu"},
        {"id": "menu", "type": "gather", "prompt": "Press 1", "options": {"1": "confirm"},
         "timeoutSeconds": 5, "noInput": "bye"},
        {"id": "confirm", "type": "say", "text": "Thanks", "next": "bye"},
        {"id": "bye", "type": "hangup"},
    ],
}


@dataclass
class Org:
    id: str
    api_key: str
    http: httpx.Client

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, json=json, **kw)

    def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.http.patch(path, json=json, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.delete(path, **kw)


class System:
    def __init__(self, infra: Infra, workdir: Path, *, clock_speed: float = 1.0, clock_start: str | None = None,
                 sim_rules: dict | None = None, replicas: dict[str, int] | None = None,
                 extra_env: dict[str, str] | None = None, gateway: bool = True, own_postgres: bool = False,
                 own_brokers: bool = False, mtls: bool | None = None, broker_password: str | None = None):
        self.infra = infra
        self.workdir = workdir
        self.replicas = replicas or {}
        self.gateway = gateway
        # own_postgres / own_brokers: servers for this system alone, which a test may stop and
        # restart even when DATABASE_URL / NATS_URL / REDIS_URL name shared ones.
        self.postgres: Postgres | None = None
        if own_postgres:
            self.database_url, self.postgres = infra.new_postgres()
        else:
            self.database_url = infra.new_database()
        # broker_password: own NATS and Redis that take only clients with it (NATS user "outbound");
        # the services get it as NATS_USER / NATS_PASSWORD / REDIS_PASSWORD, the URLs stay bare.
        self.broker_password = broker_password
        own_brokers = own_brokers or bool(broker_password)
        nats_login = {"user": "outbound", "password": broker_password} if broker_password else {}
        self.nats_url, self.nats = infra.new_nats(own=own_brokers, **nats_login)
        # Own brokers keep their data on disk, as a deployment's would, so a restart is a restart.
        self.redis_url, self.redis = infra.new_redis(own=own_brokers, durable=own_brokers,
                                                     password=broker_password or "")
        # Mutual TLS between every process (tests/support/tls.py says when it is on by default).
        self.mtls = test_tls.mtls_by_default() if mtls is None else mtls
        self.tls_dir = test_tls.session_certificates() if self.mtls else None
        from kernel.timefmt import parse_iso

        self.clock = Clock(speed=clock_speed, start=parse_iso(clock_start) if clock_start else None)
        env = {
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url, "NATS_URL": self.nats_url,
            **ProcessGroup.addresses(), "PORT": str(free_port()), "DRAIN_SECONDS": "0.2",
            "LOG_LEVEL": "INFO", **self.clock.env(),
            # Webhook receivers of the tests listen on loopback.
            "WEBHOOK_ALLOW_PRIVATE": "1",
        }
        if self.mtls:
            env.update(self.cli_env())
        if broker_password:
            env.update({"NATS_USER": "outbound", "NATS_PASSWORD": broker_password, "REDIS_PASSWORD": broker_password})
        if sim_rules is not None:
            rules_path = workdir / "sim-rules.json"
            rules_path.write_text(json.dumps(sim_rules))
            env["SIM_CARRIER_RULES"] = str(rules_path)
        env.update(extra_env or {})
        self.env = env
        self.group = ProcessGroup(env=env, log_dir=workdir / "logs", tls_dir=self.tls_dir)
        self.base_url = f"http://127.0.0.1:{env['PORT']}"
        self._suspended: set[int] = set()  # pids stopped with SIGSTOP, continued before stop()

    def start(self, services: list[str] | None = None) -> System:
        """Start every service (or only `services`, for one context's integration tests)."""
        for name in SERVICES if services is None else services:
            for instance in range(self.replicas.get(name, 1)):
                self.group.start(name, instance)
        if self.gateway:
            self.group.start("gateway")
        # Starting a dozen processes on a busy machine takes what it takes: the guard stops a hang.
        self.group.wait_healthy(HANG_GUARD_SECONDS)
        self.http = httpx.Client(base_url=self.base_url + "/api", timeout=30)
        return self

    def stop(self) -> None:
        for pid in list(self._suspended):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.group.stop_all()
        if hasattr(self, "http"):
            self.http.close()
        # Servers of this system alone go with it: idle, dozens of them would still cost CPU.
        for server in (self.postgres, self.nats, self.redis):
            if server is not None:
                server.stop()

    def kill(self, name: str, instance: int = 0) -> int:
        """SIGKILL one service process (no drain, no clean-up); answers the port it listened on."""
        proc = self.group.find(name, instance)
        proc.popen.kill()
        proc.popen.wait(HANG_GUARD_SECONDS)
        self.group.procs.remove(proc)
        return proc.port

    def restart(self, name: str, instance: int = 0, port: int | None = None) -> None:
        """Start a killed service again on its port and wait for its health check."""
        self.group.start(name, instance, port=port)
        self.group.wait_healthy(HANG_GUARD_SECONDS)

    def _pid(self, name: str, instance: int = 0) -> int:
        """A service process, or the own NATS / Redis server ("nats", "redis": own_brokers=True)."""
        if name in ("nats", "redis"):
            server = getattr(self, name)
            assert server is not None and server.proc is not None, f"no {name} server of this system's own"
            return server.proc.pid
        return self.group.find(name, instance).popen.pid

    def suspend(self, name: str, instance: int = 0) -> None:
        """SIGSTOP: the process keeps its sockets and state but does nothing, as in a long GC
        pause or a frozen VM; its peers see it hang, not go away."""
        pid = self._pid(name, instance)
        os.kill(pid, signal.SIGSTOP)
        self._suspended.add(pid)

    def resume_process(self, name: str, instance: int = 0) -> None:
        """SIGCONT a process stopped by suspend()."""
        pid = self._pid(name, instance)
        os.kill(pid, signal.SIGCONT)
        self._suspended.discard(pid)

    @contextlib.contextmanager
    def suspended(self, name: str, instance: int = 0) -> Iterator[None]:
        """Stopped for the body of the with-block, continued however it ends."""
        self.suspend(name, instance)
        try:
            yield
        finally:
            self.resume_process(name, instance)

    def logs(self) -> str:
        out = []
        for path in sorted((self.workdir / "logs").glob("*.log")):
            out.append(f"==== {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(out)

    # --- admin helpers (gRPC, as the `outbound admin` CLI does) ---

    def channel(self, service: str) -> grpc.Channel:
        """A channel to `service`; with mTLS each method is called as a caller the table allows."""
        address = self.env[f"{service.upper()}_ADDR"]
        if not self.mtls:
            return grpc.insecure_channel(address)
        return test_tls.RoutedChannel(address, service)

    def aio_channel(self, service: str, caller: str = callers.GATEWAY) -> grpc.aio.Channel:
        """An asyncio channel to `service`, calling as `caller` when mTLS is on."""
        address = self.env[f"{service.upper()}_ADDR"]
        if not self.mtls:
            return grpc.aio.insecure_channel(address)
        return grpc.aio.secure_channel(address, tls.channel_credentials(test_tls.files(caller)),
                                       options=rpc.CHANNEL_OPTIONS + tls.server_name(service))

    def cli_env(self) -> dict[str, str]:
        """The variables that hand the operator CLI its certificate (none without mTLS)."""
        return test_tls.files(callers.CLI).env() if self.mtls else {}

    @contextlib.contextmanager
    def acting_as(self, caller: str) -> Iterator[None]:
        """This test process configured as `caller` of this system (its addresses and, with mTLS,
        its certificate) for the body of the with-block: for a service's own client classes,
        which read the process's settings (kernel.settings.get)."""
        patch = {**{k: v for k, v in self.env.items() if k.endswith("_ADDR")},
                 **(test_tls.files(caller).env() if self.mtls else {})}
        saved = {name: os.environ.get(name) for name in patch}
        os.environ.update(patch)
        settings_module.get.cache_clear()
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            settings_module.get.cache_clear()

    def create_org(self, name: str = "Acme", credits: int = 100_000) -> Org:
        with self.channel("account") as channel:
            answer = account_pb2_grpc.AccountServiceStub(channel).CreateOrganization(
                account_pb2.CreateOrganizationRequest(name=name, credits=credits), timeout=30)
        http = httpx.Client(base_url=self.base_url + "/api", timeout=30, headers={"x-api-key": answer.api_key})
        return Org(answer.organization.id, answer.api_key, http)

    def add_did(self, number: str, country: str = "MA", org: str | None = None, inactive: bool = False) -> dialer_pb2.Did:
        request = dialer_pb2.AddDidRequest(number=number, country=country, inactive=inactive)
        if org:
            request.organization_id = org
        with self.channel("dialer") as channel:
            return dialer_pb2_grpc.DialerServiceStub(channel).AddDid(request, timeout=30)

    def now(self):
        return self.clock.now()


# The ceiling of a wait on a condition that depends on the machine's speed: it only stops a test
# that would otherwise hang, so it is sized for a busy machine (load 4-8 on 2 cores), never for an
# idle one. It is no performance claim: no test asserts how long such a wait took.
HANG_GUARD_SECONDS = 240.0


def wait_until(predicate: Callable[[], Any], timeout: float = HANG_GUARD_SECONDS, interval: float = 0.2,
               message: str = "condition") -> Any:
    """Poll until predicate() is truthy; returns its value. The default timeout is the hang guard:
    pass a shorter one only where the wait itself is the thing bounded, never for speed."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")


def wait_progressing(read: Callable[[], Any], done: Callable[[Any], Any], progress: Callable[[Any], Any],
                     stalled_after: float = HANG_GUARD_SECONDS, interval: float = 0.2,
                     message: str = "condition") -> Any:
    """Poll read() until done(value); returns the value. For long work whose length depends on
    the machine (a whole campaign): it fails only once progress(value) has stayed the same for
    `stalled_after` seconds, when nothing moves any more (the test's timeout bounds the rest)."""
    marker, since = object(), time.monotonic()
    while True:
        value = read()
        if done(value):
            return value
        if progress(value) != marker:
            marker, since = progress(value), time.monotonic()
        elif time.monotonic() - since > stalled_after:
            raise AssertionError(f"no progress for {stalled_after}s waiting for {message}; last value: {value!r}")
        time.sleep(interval)
