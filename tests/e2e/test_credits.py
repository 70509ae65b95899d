"""GET /api/credits: balance, reserved and available, per organization."""

from __future__ import annotations

import pytest

from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from tests.support.system import System


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(services=["account", "audience"], clock_speed=60)
    return system


def test_credits_show_balance_reserved_and_available(system):
    org = system.create_org(credits=50)
    assert org.get("/credits").json() == {"balance": 50, "reserved": 0, "available": 50}
    with system.channel("account") as channel:
        stub = account_pb2_grpc.AccountServiceStub(channel)
        stub.ReserveCredits(pb.ReserveCreditsRequest(organization_id=org.id, reservation_id="call-1", amount=2),
                            timeout=30)
        assert org.get("/credits").json() == {"balance": 50, "reserved": 2, "available": 48}
        stub.SettleReservation(pb.SettleReservationRequest(reservation_id="call-1", amount=3), timeout=30)
        stub.AddCredits(pb.AddCreditsRequest(organization_id=org.id, amount=10), timeout=30)
    assert org.get("/credits").json() == {"balance": 57, "reserved": 0, "available": 57}


def test_each_organization_sees_its_own_credits(system):
    rich, poor = system.create_org(credits=1000), system.create_org(credits=0)
    assert rich.get("/credits").json()["balance"] == 1000
    assert poor.get("/credits").json() == {"balance": 0, "reserved": 0, "available": 0}


def test_credits_need_a_key(system):
    answer = system.http.get("/credits")
    assert answer.status_code == 401
    assert answer.json() == {"error": "UnauthorizedError", "message": answer.json()["message"]}
