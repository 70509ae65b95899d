"""x-api-key authentication through the gateway: missing, malformed, unknown, revoked, rotated."""

from __future__ import annotations

import httpx
import pytest

from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from tests.support.system import System, wait_until


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "audience"], clock_speed=60)
    return system


def client(system: System, key: str | None) -> httpx.Client:
    headers = {"x-api-key": key} if key is not None else {}
    return httpx.Client(base_url=system.base_url + "/api", timeout=30, headers=headers)


def assert_unauthorized(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert set(body) == {"error", "message"} and body["error"] == "UnauthorizedError" and body["message"]


REAL_ID_WRONG_SECRET = "real key id, wrong secret"


@pytest.mark.parametrize("key", [None, "", "garbage", "ob_", "ob_0123456789abcdef_unknownkeyid",
                                 "ob_0123456789abcdef", REAL_ID_WRONG_SECRET])
def test_bad_keys_are_401_and_write_nothing(system, key):
    org = system.create_org()
    forged = key
    if key == REAL_ID_WRONG_SECRET:
        forged = "ob_" + org.api_key.split("_")[1] + "_wrongsecret"
    with client(system, forged) as http:
        for answer in (http.get("/contacts"), http.get("/credits"), http.get("/audiences"),
                       http.post("/contacts", json={"phone": "+212600000001"}),
                       http.post("/audiences", json={"name": "x"}),
                       http.post("/custom-attributes", json={"name": "x", "type": "text"})):
            assert_unauthorized(answer)
    assert org.get("/contacts").json() == []
    assert org.get("/audiences").json() == []
    assert org.get("/custom-attributes").json() == []


def test_revoked_key_stops_working_and_rotation_keeps_access(system):
    org = system.create_org()
    with system.channel("account") as channel:
        stub = account_pb2_grpc.AccountServiceStub(channel)
        new = stub.CreateApiKey(pb.CreateApiKeyRequest(organization_id=org.id, name="rotation"), timeout=30)
        old_key_id = stub.AuthenticateApiKey(pb.AuthenticateApiKeyRequest(api_key=org.api_key),
                                             timeout=30).api_key_id
        assert org.get("/credits").status_code == 200
        stub.RevokeApiKey(pb.RevokeApiKeyRequest(api_key_id=old_key_id), timeout=30)
    # The gateway caches a verdict for a short while; the revocation takes effect right after.
    wait_until(lambda: org.get("/credits").status_code == 401, message="revoked key refused")
    assert_unauthorized(org.post("/contacts", json={"phone": "+212600000001"}))
    with client(system, new.api_key) as http:
        assert http.get("/credits").status_code == 200
        assert http.get("/contacts").json() == []
