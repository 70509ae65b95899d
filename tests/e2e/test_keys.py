"""API keys: never stored, logged or cached in plaintext; compared in constant time; rotated
and revoked with `outbound admin key create|revoke`, a revoked key refused within the
gateway's short verdict cache."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
import time

import httpx
import psycopg
import pytest
import redis

from gateway.auth import CACHE_SECONDS
from services.account.domain import api_keys
from tests.support.campaigns import ANSWER, SIM_RULES, Tenant
from tests.support.system import System

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    # DEBUG: the most a service ever writes; keys must not be in it either.
    return system_factory(clock_speed=120, sim_rules=SIM_RULES, extra_env={"LOG_LEVEL": "DEBUG"})


def admin(system: System, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", *args],
                          env={**os.environ, **system.env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def client(system: System, key: str) -> httpx.Client:
    return httpx.Client(base_url=system.base_url + "/api", headers={"x-api-key": key}, timeout=30)


def secret_of(key: str) -> str:
    return api_keys.parse(key).secret


def test_rotation_and_revocation_through_the_cli(system: System):
    created = admin(system, "org", "create", "--name", "Rotating", "--credits", "10")
    org_id, old_key = created["organizationId"], created["apiKey"]
    old_id = api_keys.parse(old_key).key_id
    with client(system, old_key) as old:
        assert old.get("/credits").status_code == 200
        # Rotation: a second key works alongside the first until the first is revoked.
        rotated = admin(system, "key", "create", "--org", org_id, "--name", "2026")
        with client(system, rotated["apiKey"]) as new:
            assert new.get("/credits").json()["balance"] == 10
            assert old.get("/credits").status_code == 200
            assert admin(system, "key", "revoke", "--id", old_id) == {"apiKeyId": old_id, "revoked": True}
            # The gateway may answer from a verdict cached before the revocation for CACHE_SECONDS
            # (real seconds, whatever the machine's load); once they are over the key is refused.
            time.sleep(CACHE_SECONDS)
            assert old.get("/credits").status_code == 401, "the revoked key refused past the verdict cache"
            refused = old.post("/audiences", json={"name": "after revocation"})
            assert refused.status_code == 401 and refused.json()["error"] == "UnauthorizedError"
            assert new.get("/audiences").json() == [], "nothing was written with the revoked key"
            # Revoking again changes nothing; the new key goes on working.
            assert admin(system, "key", "revoke", "--id", old_id)["revoked"] is True
            assert new.get("/credits").status_code == 200


def test_keys_are_hashed_at_rest_and_compared_in_constant_time(system: System):
    org = system.create_org()
    rotated = admin(system, "key", "create", "--org", org.id)
    keys = [org.api_key, rotated["apiKey"]]
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'account'").fetchall()]
        dump = "\n".join(str(row) for table in tables
                         for row in conn.execute(f'SELECT * FROM account."{table}"').fetchall())
        stored = dict(conn.execute("SELECT id, secret_sha256 FROM account.api_keys WHERE organization_id = %s",
                                   (org.id,)).fetchall())
    for key in keys:
        parsed = api_keys.parse(key)
        assert key not in dump and parsed.secret not in dump, "a key or its secret stored in plaintext"
        assert bytes(stored[parsed.key_id]) == hashlib.sha256(parsed.secret.encode()).digest()
    assert "hmac.compare_digest" in inspect.getsource(api_keys.matches)


def test_no_key_in_logs_or_redis_after_a_campaign(system: System):
    tenant = Tenant(system)
    execution = tenant.launch(tenant.program(tenant.audience(3, ANSWER))["id"])
    tenant.wait_status(execution, "completed")
    wrong = "ob_" + api_keys.parse(tenant.org.api_key).key_id + "_" + "w" * 43
    with client(system, wrong) as forged:
        assert forged.get("/credits").status_code == 401
    with client(system, "not-even-a-key-" + "z" * 30) as garbage:
        assert garbage.get("/credits").status_code == 401
    secrets = [tenant.org.api_key, secret_of(tenant.org.api_key), wrong, "not-even-a-key-" + "z" * 30]
    logs = {path.name: path.read_text(errors="replace") for path in (system.workdir / "logs").glob("*.log")}
    assert {"gateway-0.log", "account-0.log", "execution-0.log", "dialer-0.log"} <= set(logs)
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"an API key in {name}"
    rds = redis.Redis.from_url(system.redis_url)
    try:
        stored = b"\n".join(rds.scan_iter(count=1000)).decode(errors="replace")
    finally:
        rds.close()
    assert stored and not any(secret in stored for secret in secrets), "an API key in a Redis key name"
