"""`outbound admin did …` against a running dialer, as an operator would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return system_factory(services=["dialer"], gateway=False)


def admin(system: System, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", *args],
                          env={**os.environ, **system.cli_env(), "DIALER_ADDR": system.env["DIALER_ADDR"]},
                          capture_output=True, text=True, timeout=60)


def ok(system: System, *args: str) -> dict:
    done = admin(system, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def unique() -> str:
    return f"+21252{uuid.uuid4().int % 10**7:07d}"


def test_add_shared_and_private_dids(system):
    number = unique()
    shared = ok(system, "did", "add", "--number", number, "--country", "MA")
    assert shared == {"id": shared["id"], "number": number, "country": "MA", "status": "active",
                      "organizationId": None, "deleted": False}
    org = str(uuid.uuid4())
    private = ok(system, "did", "add", "--number", unique(), "--country", "MA", "--org", org, "--inactive")
    assert (private["organizationId"], private["status"]) == (org, "inactive")


def test_set_status_and_delete(system):
    did = ok(system, "did", "add", "--number", unique(), "--country", "MA")
    assert ok(system, "did", "set-status", "--id", did["id"], "--status", "inactive")["status"] == "inactive"
    assert ok(system, "did", "set-status", "--id", did["id"], "--status", "active")["status"] == "active"
    deleted = ok(system, "did", "delete", "--id", did["id"])
    assert deleted["deleted"] is True and deleted["id"] == did["id"]


def test_errors_are_json_on_stderr(system):
    bad = admin(system, "did", "add", "--number", "0612", "--country", "MA")
    assert bad.returncode == 1
    assert json.loads(bad.stderr.splitlines()[-1])["error"] == "ValidationError"
    number = unique()
    ok(system, "did", "add", "--number", number, "--country", "MA")
    dup = admin(system, "did", "add", "--number", number, "--country", "MA")
    assert dup.returncode == 1 and json.loads(dup.stderr.splitlines()[-1])["error"] == "ConflictError"
    missing = admin(system, "did", "set-status", "--id", str(uuid.uuid4()), "--status", "active")
    assert missing.returncode == 1 and json.loads(missing.stderr.splitlines()[-1])["error"] == "DidNotFoundError"
