"""`outbound admin …` against a running account service, as an operator would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.support.system import System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "audience"], clock_speed=60)
    return system


def admin(system: System, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", *args],
                          env={**os.environ, **system.env}, capture_output=True, text=True, timeout=60)


def ok(system: System, *args: str) -> dict:
    done = admin(system, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_org_create_credits_add_and_keys(system):
    created = ok(system, "org", "create", "--name", "Cli Org", "--credits", "5")
    assert set(created) == {"organizationId", "apiKey"} and created["apiKey"].startswith("ob_")
    org_id, key = created["organizationId"], created["apiKey"]
    with httpx.Client(base_url=system.base_url + "/api", headers={"x-api-key": key}, timeout=30) as http:
        assert http.get("/credits").json() == {"balance": 5, "reserved": 0, "available": 5}

    assert ok(system, "credits", "add", "--org", org_id, "--amount", "7") == {
        "balance": 12, "reserved": 0, "available": 12}
    assert ok(system, "credits", "show", "--org", org_id)["balance"] == 12

    rotated = ok(system, "key", "create", "--org", org_id, "--name", "ci")
    assert rotated["apiKey"].startswith(f"ob_{rotated['apiKeyId']}_")
    assert ok(system, "key", "revoke", "--id", rotated["apiKeyId"]) == {"apiKeyId": rotated["apiKeyId"],
                                                                        "revoked": True}


@pytest.mark.parametrize("args,error", [
    (("credits", "add", "--org", "00000000-0000-0000-0000-000000000000", "--amount", "5"),
     "OrganizationNotFoundError"),
    (("credits", "add", "--org", "00000000-0000-0000-0000-000000000000", "--amount", "0"), "ValidationError"),
    (("org", "create", "--name", " "), "ValidationError"),
    (("key", "revoke", "--id", "0000000000000000"), "ApiKeyNotFoundError"),
])
def test_errors_are_printed_as_json(system, args, error):
    done = admin(system, *args)
    assert done.returncode == 1
    body = json.loads(done.stderr.strip().splitlines()[-1])
    assert body["error"] == error and body["message"]
