"""Least exposure end to end: every socket a run listens on is on loopback, `outbound run` speaks
mutual TLS with certificates of its own (and the admin CLI finds its own), and no API key,
broker password or private key ever reaches a log of a whole campaign."""

from __future__ import annotations

import ipaddress
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import psutil
import pytest

from outbound_cli.serve import SERVICES
from services.account.domain import api_keys
from tests.support.campaigns import ANSWER, SIM_RULES, Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

pytestmark = pytest.mark.e2e

SERVER_URLS = ("DATABASE_URL", "REDIS_URL", "NATS_URL")


def listening(pids: list[int]) -> list[tuple[str, str, int]]:
    """(process, address, port) of every listening TCP socket and bound UDP socket of the processes
    and all their descendants, read from the process table."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        with_children = [psutil.Process(pid)]
        with_children += with_children[0].children(recursive=True)
        seen.update({p.pid: p for p in with_children})
    out = []
    for proc in seen.values():
        try:
            name, sockets = " ".join(proc.cmdline()[-3:]), proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for sock in sockets:
            if sock.status == psutil.CONN_LISTEN or (sock.type == socket.SOCK_DGRAM and not sock.raddr):
                out.append((name, sock.laddr.ip, sock.laddr.port))
    return out


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    # gRPC binds 127.0.0.1 on a dual-stack socket, seen as the IPv4-mapped ::ffff:127.0.0.1.
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def not_loopback(sockets: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    return [s for s in sockets if not is_loopback(s[1])]


def test_every_socket_of_a_whole_system_is_on_loopback(system_factory):
    system = system_factory(clock_speed=60)
    pids = [p.popen.pid for p in system.group.procs]
    pids += [s.proc.pid for s in (system.infra.pg, system.nats, system.redis) if s is not None and s.proc]
    sockets = listening(pids)
    ports = {port for _, _, port in sockets}
    assert {p.port for p in system.group.procs} <= ports, "every service and the gateway listen"
    assert {p.metrics_port for p in system.group.procs} <= ports, "and every /metrics"
    assert not not_loopback(sockets)


def _free_block(size: int) -> int:
    """A first port of `size` consecutive free ones (outbound run numbers its services from it)."""
    for _ in range(200):
        base = random.randrange(20_000, 30_000)
        try:
            holders = []
            for port in range(base, base + size):
                sock = socket.socket()
                holders.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in holders:
                sock.close()
        return base
    raise AssertionError("no block of free ports")


def _stop(run: subprocess.Popen, family: list[psutil.Process]) -> None:
    """Ctrl-C as an operator would; anything left after the hang guard is killed."""
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            run.kill()
    for proc in family:
        if proc.is_running():
            proc.kill()


def test_outbound_run_listens_on_loopback_with_mtls_and_the_cli_brings_its_own_certificate(tmp_path):
    base = _free_block(len(SERVICES))
    env = {k: v for k, v in os.environ.items() if k not in SERVER_URLS and not k.startswith("GRPC_TLS_")}
    env.update({"OUTBOUND_RUN_DIR": str(tmp_path / "run"), "GRPC_BASE_PORT": str(base),
                "PORT": str(_free_block(1))})
    out_path = tmp_path / "run.out"
    with open(out_path, "wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "outbound_cli.main", "run"], env=env, stdout=out,
                               stderr=subprocess.STDOUT)
    family: list[psutil.Process] = []
    try:
        wait_until(lambda: "Outbound is running" in out_path.read_text() or run.poll() is not None,
                   message="outbound run to start")
        assert run.poll() is None, out_path.read_text()
        family = psutil.Process(run.pid).children(recursive=True)
        sockets = listening([run.pid])
        assert set(range(base, base + len(SERVICES))) | {int(env["PORT"])} <= {port for _, _, port in sockets}
        assert not not_loopback(sockets)

        tls_dir = tmp_path / "run" / "tls"
        assert {f"{n}.crt" for n in (*SERVICES, "gateway", "cli", "ca")} <= {p.name for p in tls_dir.iterdir()}
        with grpc.insecure_channel(f"127.0.0.1:{base}") as plaintext:
            with pytest.raises(grpc.RpcError) as caught:
                plaintext.unary_unary("/outbound.account.v1.AccountService/GetCredits")(b"", timeout=30)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

        # The operator's shell knows nothing of TLS: the CLI takes its certificate from the run directory.
        demo = json.loads((tmp_path / "run" / "demo.json").read_text())
        done = subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", "credits", "show",
                               "--org", demo["organizationId"]],
                              env={**env, "ACCOUNT_ADDR": f"127.0.0.1:{base}"}, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["balance"] == 1000
    finally:
        _stop(run, family)


def _secret_part(api_key: str) -> str:
    # The secret itself may contain "_": it is what follows the key id, not the last "_".
    parsed = api_keys.parse(api_key)
    assert parsed is not None, "a key of the documented form"
    return parsed.secret


def test_no_key_password_or_private_key_reaches_any_log(system_factory):
    password = secrets.token_hex(16)
    system: System = system_factory(clock_speed=120, sim_rules=SIM_RULES, broker_password=password,
                                    extra_env={"LOG_LEVEL": "DEBUG"})
    admin_env = {**os.environ, **system.env}

    def admin(*args: str) -> dict:
        done = subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", *args], env=admin_env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = admin("org", "create", "--name", "Secretive", "--credits", "50")
    rotated = admin("key", "create", "--org", created["organizationId"])
    admin("key", "revoke", "--id", rotated["apiKeyId"])
    tenant = Tenant(system)
    audience = tenant.audience(20, ANSWER)
    execution = tenant.launch(tenant.program(audience)["id"])
    assert tenant.wait_status(execution, "completed")["contactsCompleted"] == 20
    made_up = f"ob_{secrets.token_hex(8)}_{secrets.token_hex(16)}"
    for key in (rotated["apiKey"], made_up):
        assert tenant.org.get("/credits", headers={"x-api-key": key}).status_code == 401
    assert system.http.get("/credits", headers={"x-api-key": created["apiKey"]}).status_code == 200
    system.stop()  # every process has flushed its log

    keys = (created["apiKey"], rotated["apiKey"], tenant.org.api_key, made_up)
    forbidden = {password, *keys, *map(_secret_part, keys)}
    assert system.tls_dir is not None
    for key_file in system.tls_dir.glob("*.key"):
        body = [line for line in key_file.read_text().splitlines() if line and not line.startswith("-----")]
        # A PEM's last line can be a few characters ("kQ=="), found anywhere by chance: every
        # line long enough to be key material, and the whole body, are what must not leak.
        forbidden.update(line for line in body if len(line) >= 16)
        forbidden.add("".join(body))
    logs = sorted((system.workdir / "logs").glob("*.log"))
    logs += [Path(system.nats.data_dir) / "nats.log", Path(system.redis.data_dir) / "redis.log"]
    assert len(logs) >= len(SERVICES) + 3
    text = {path.name: path.read_text(errors="replace") for path in logs}
    assert sum(map(len, text.values())) > 0
    leaks = [(name, secret[:6] + "…") for name, content in text.items() for secret in forbidden if secret in content]
    assert not leaks, leaks
