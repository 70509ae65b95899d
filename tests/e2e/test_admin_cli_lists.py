"""`outbound admin` finds the instance `make run` started (GRPC_BASE_PORT, *_ADDR over it), says
which one it talks to, and lists organizations, DIDs and API keys (never a key's secret)."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from outbound_cli.serve import SERVICES
from outbound_cli.supervisor import ProcessGroup
from services.account.domain import api_keys
from tests.support.system import System

pytestmark = pytest.mark.e2e


def free_base_port() -> int:
    """A base port with the len(SERVICES) ports above it free, as `outbound run` would use."""
    for _ in range(200):
        base = random.randrange(20_000, 40_000)
        try:
            sockets = []
            for port in range(base, base + len(SERVICES)):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no free range of ports")


@pytest.fixture(scope="module")
def instances(system_factory) -> list[tuple[int, System]]:
    """Two instances on fixed base ports, like two `make run` with different GRPC_BASE_PORT."""
    started = []
    for _ in range(2):
        base = free_base_port()
        system = system_factory(services=["account", "dialer"], gateway=False, clock_speed=60,
                                extra_env=ProcessGroup.addresses(base))
        started.append((base, system))
    return started


def admin(system: System, tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    # Only what the operator's shell would hold: no *_ADDR of this test process or of the system.
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_ADDR") and k != "GRPC_BASE_PORT"}
    return subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", *args],
                          env={**clean, **system.cli_env(), "OUTBOUND_RUN_DIR": str(tmp), **env},
                          capture_output=True, text=True, timeout=60)


def ok(system: System, tmp: Path, *args: str, **env: str) -> tuple[object, str]:
    done = admin(system, tmp, *args, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_base_port_picks_the_instance_and_addr_wins(instances, tmp_path):
    (base_a, a), (base_b, b) = instances
    created_a, _ = ok(a, tmp_path, "org", "create", "--name", "Org A", GRPC_BASE_PORT=str(base_a))
    created_b, said = ok(b, tmp_path, "org", "create", "--name", "Org B", GRPC_BASE_PORT=str(base_b))
    assert f"talking to account at 127.0.0.1:{base_b}" in said

    listed_a, said_a = ok(a, tmp_path, "org", "list", GRPC_BASE_PORT=str(base_a))
    assert f"talking to account at 127.0.0.1:{base_a}" in said_a
    ids_a = [o["id"] for o in listed_a]
    assert created_a["organizationId"] in ids_a and created_b["organizationId"] not in ids_a
    assert {"id", "name", "createdAt"} == set(listed_a[-1]) and listed_a[-1]["name"] == "Org A"

    # ACCOUNT_ADDR is taken over GRPC_BASE_PORT.
    listed_b, said_b = ok(a, tmp_path, "org", "list", GRPC_BASE_PORT=str(base_a),
                          ACCOUNT_ADDR=b.env["ACCOUNT_ADDR"])
    assert f"talking to account at {b.env['ACCOUNT_ADDR']}" in said_b
    ids_b = [o["id"] for o in listed_b]
    assert created_b["organizationId"] in ids_b and created_a["organizationId"] not in ids_b

    # The dialer is GRPC_BASE_PORT + its place in the service order.
    _, said_dialer = ok(b, tmp_path, "did", "list", GRPC_BASE_PORT=str(base_b))
    assert f"talking to dialer at 127.0.0.1:{base_b + SERVICES.index('dialer')}" in said_dialer


def test_key_list_shows_ids_and_prefixes_never_secrets(instances, tmp_path):
    base, system = instances[0]
    port = {"GRPC_BASE_PORT": str(base)}
    created, _ = ok(system, tmp_path, "org", "create", "--name", "Keys", **port)
    org = created["organizationId"]
    second, _ = ok(system, tmp_path, "key", "create", "--org", org, "--name", "ci", **port)
    ok(system, tmp_path, "key", "revoke", "--id", second["apiKeyId"], **port)

    done = admin(system, tmp_path, "key", "list", "--org", org, **port)
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)
    assert [k["name"] for k in keys] == ["default", "ci"]
    assert keys[1]["id"] == second["apiKeyId"] and keys[1]["prefix"] == f"ob_{second['apiKeyId']}"
    assert keys[0]["revokedAt"] is None and keys[1]["revokedAt"]
    for secret in (created["apiKey"], second["apiKey"]):
        parsed = api_keys.parse(secret)  # the secret may itself contain "_"
        assert parsed is not None and parsed.secret not in done.stdout + done.stderr

    unknown = admin(system, tmp_path, "key", "list", "--org", "7b3c2a9e-0000-4000-8000-000000000000", **port)
    assert unknown.returncode == 1 and json.loads(unknown.stderr.splitlines()[-1])["error"] == \
        "OrganizationNotFoundError"


def test_did_list_all_or_for_an_organization(instances, tmp_path):
    base, system = instances[1]
    port = {"GRPC_BASE_PORT": str(base)}
    mine, _ = ok(system, tmp_path, "org", "create", "--name", "Owner", **port)
    other, _ = ok(system, tmp_path, "org", "create", "--name", "Other", **port)
    shared, _ = ok(system, tmp_path, "did", "add", "--number", "+212500000701", "--country", "MA", **port)
    owned, _ = ok(system, tmp_path, "did", "add", "--number", "+212500000702", "--country", "MA",
                  "--org", mine["organizationId"], "--inactive", **port)
    gone, _ = ok(system, tmp_path, "did", "add", "--number", "+212500000703", "--country", "MA", **port)
    ok(system, tmp_path, "did", "delete", "--id", gone["id"], **port)

    every, _ = ok(system, tmp_path, "did", "list", **port)
    assert [d["number"] for d in every] == ["+212500000701", "+212500000702"]
    assert every[1] == {**owned, "status": "inactive"}
    theirs, _ = ok(system, tmp_path, "did", "list", "--org", other["organizationId"], **port)
    assert [d["id"] for d in theirs] == [shared["id"]]
    own, _ = ok(system, tmp_path, "did", "list", "--org", mine["organizationId"], **port)
    assert [d["id"] for d in own] == [shared["id"], owned["id"]]
