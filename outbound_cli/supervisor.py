"""Starts and stops Outbound's processes: what `outbound run` and the tests both use.

Every service runs as its own process, as it would in a cluster; the supervisor only
hands them the same environment (database, Redis, NATS, addresses, clock) and waits for
their health checks. With a directory of certificates (outbound_cli.devcerts) each process
gets its own certificate and every gRPC hop is mutual TLS; the group's environment then
carries the operator CLI's certificate, the one its own health checks present.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kernel import rpc, tls
from outbound_cli.devservers import free_port, wait_for_port
from outbound_cli.serve import SERVICES


@dataclass
class Proc:
    name: str
    instance: int
    popen: subprocess.Popen
    env: dict[str, str]
    port: int
    log_path: Path | None = None
    metrics_port: int | None = None


@dataclass
class ProcessGroup:
    """A set of Outbound processes sharing one environment."""

    env: dict[str, str]
    log_dir: Path | None = None
    procs: list[Proc] = field(default_factory=list)
    # Certificates by process name (outbound_cli.devcerts); None: plaintext gRPC.
    tls_dir: Path | None = None

    @staticmethod
    def addresses(base_port: int | None = None) -> dict[str, str]:
        """<NAME>_ADDR for every service: fixed ports from base_port, or free ones."""
        return {
            f"{name.upper()}_ADDR": f"127.0.0.1:{(base_port + i) if base_port else free_port()}"
            for i, name in enumerate(SERVICES)
        }

    def _spawn(self, name: str, instance: int, port: int, extra: dict[str, str] | None) -> Proc:
        env = {**os.environ, **self.env, **(extra or {})}
        if self.tls_dir is not None:
            from outbound_cli.devcerts import files_for

            env.update(files_for(self.tls_dir, name).env())
        if name == "gateway":
            env["PORT"] = str(port)
        else:
            env["GRPC_PORT"] = str(port)
            # Each process needs a port of its own: an exported METRICS_PORT cannot be shared by
            # them all, so only a per-process one (extra) or 0 (metrics off) is kept.
            if "METRICS_PORT" not in (extra or {}) and env.get("METRICS_PORT") != "0":
                env["METRICS_PORT"] = str(free_port())
        out = None
        log_path = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{name}-{instance}.log"
            out = open(log_path, "ab")  # noqa: SIM115 - kept for the child's life
        popen = subprocess.Popen(
            [sys.executable, "-m", "outbound_cli.main", "serve", name],
            env=env, stdout=out or subprocess.DEVNULL, stderr=out or subprocess.DEVNULL,
        )
        metrics_port = port if name == "gateway" else int(env["METRICS_PORT"])
        proc = Proc(name, instance, popen, env, port, log_path, metrics_port)
        self.procs.append(proc)
        return proc

    def start(self, name: str, instance: int = 0, extra_env: dict[str, str] | None = None,
              port: int | None = None) -> Proc:
        if port is None:
            if name == "gateway":
                port = int(self.env.get("PORT") or free_port())
            elif instance == 0:
                port = int(self.env[f"{name.upper()}_ADDR"].rsplit(":", 1)[1])
            else:
                port = free_port()  # extra replicas: not addressed by clients, but must listen
        return self._spawn(name, instance, port, extra_env)

    def start_all(self, replicas: dict[str, int] | None = None, gateway: bool = True) -> None:
        for name in SERVICES:
            for instance in range((replicas or {}).get(name, 1)):
                self.start(name, instance)
        if gateway:
            self.start("gateway")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            if proc.popen.poll() is not None:
                continue
            remaining = max(1.0, deadline - time.monotonic())
            wait_healthy(proc, remaining)

    def find(self, name: str, instance: int = 0) -> Proc:
        for proc in self.procs:
            if proc.name == name and proc.instance == instance and proc.popen.poll() is None:
                return proc
        raise KeyError(f"{name}#{instance} is not running")

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.popen.returncode

    def stop_all(self, timeout: float = 20.0) -> None:
        for proc in list(self.procs):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in list(self.procs):
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(5)
        self.procs.clear()


def wait_healthy(proc: Proc, timeout: float = 60.0) -> None:
    """gRPC health SERVING for a service, a listening socket for the gateway."""
    if proc.name == "gateway":
        wait_for_port(proc.port, timeout, proc.popen)
        return
    deadline = time.monotonic() + timeout
    with rpc.blocking_channel(f"127.0.0.1:{proc.port}", tls.files_in(proc.env), proc.name) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}; log: {proc.log_path}")
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{proc.name} not healthy after {timeout}s; log: {proc.log_path}")


def grpc_channel(env: dict[str, str], service: str) -> grpc.Channel:
    """A channel to `service` at its address in `env`, with the certificate `env` hands a client."""
    return rpc.blocking_channel(env[f"{service.upper()}_ADDR"], tls.files_in(env), service)
