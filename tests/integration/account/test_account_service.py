"""The account service against real PostgreSQL: keys, credits, reservations under concurrency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest

from kernel import errors
from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from services.account.domain.errors import ApiKeyNotFoundError, OrganizationNotFoundError


@pytest.fixture(scope="module")
def account(system_factory):
    system = system_factory(services=["account"], gateway=False)
    channel = system.channel("account")
    yield system, account_pb2_grpc.AccountServiceStub(channel)
    channel.close()


def call(method, request):
    try:
        return method(request, timeout=30)
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from None


def new_org(stub, credits: int = 0) -> pb.CreateOrganizationResponse:
    return call(stub.CreateOrganization, pb.CreateOrganizationRequest(name="Org", credits=credits))


def credits(stub, org_id: str) -> pb.CreditBalance:
    return call(stub.GetCredits, pb.GetCreditsRequest(organization_id=org_id)).credits


def test_create_organization_issues_a_working_key(account):
    _, stub = account
    created = new_org(stub, credits=7)
    assert created.api_key.startswith(f"ob_{created.api_key_id}_")
    who = call(stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=created.api_key))
    assert who.organization_id == created.organization.id
    assert who.api_key_id == created.api_key_id
    assert credits(stub, created.organization.id) == pb.CreditBalance(balance=7, reserved=0, available=7)
    org = call(stub.GetOrganization, pb.GetOrganizationRequest(organization_id=created.organization.id))
    assert org.organization.name == "Org"


@pytest.mark.parametrize("bad", ["", "nope", "ob_", "ob_0123456789abcdef_", "ob_0123456789abcdef_wrong",
                                 "ob_zzzz_secret", "ob_0000000000000000_secret"])
def test_malformed_or_unknown_keys_are_unauthorized(account, bad):
    _, stub = account
    new_org(stub)
    with pytest.raises(errors.UnauthorizedError):
        call(stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=bad))


def test_wrong_secret_for_a_real_key_id_is_unauthorized(account):
    _, stub = account
    created = new_org(stub)
    forged = f"ob_{created.api_key_id}_{'x' * 43}"
    with pytest.raises(errors.UnauthorizedError):
        call(stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=forged))


def test_rotation_and_revocation(account):
    _, stub = account
    created = new_org(stub)
    second = call(stub.CreateApiKey, pb.CreateApiKeyRequest(organization_id=created.organization.id, name="ci"))
    assert second.api_key != created.api_key
    call(stub.RevokeApiKey, pb.RevokeApiKeyRequest(api_key_id=created.api_key_id))
    with pytest.raises(errors.UnauthorizedError):
        call(stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=created.api_key))
    who = call(stub.AuthenticateApiKey, pb.AuthenticateApiKeyRequest(api_key=second.api_key))
    assert who.organization_id == created.organization.id
    # Revoking again changes nothing; an unknown key id is named.
    call(stub.RevokeApiKey, pb.RevokeApiKeyRequest(api_key_id=created.api_key_id))
    with pytest.raises(ApiKeyNotFoundError):
        call(stub.RevokeApiKey, pb.RevokeApiKeyRequest(api_key_id="0000000000000000"))
    with pytest.raises(OrganizationNotFoundError):
        call(stub.CreateApiKey, pb.CreateApiKeyRequest(organization_id=str(uuid.uuid4())))


def test_keys_are_hashed_at_rest(account):
    system, stub = account
    created = new_org(stub)
    secret = created.api_key.split("_", 2)[2]
    with psycopg.connect(system.database_url) as conn:
        dump = conn.execute("SELECT row_to_json(k)::text FROM account.api_keys k").fetchall()
        dump += conn.execute("SELECT row_to_json(o)::text FROM account.organizations o").fetchall()
    text = "\n".join(row[0] for row in dump)
    assert created.api_key_id in text
    assert secret not in text and created.api_key not in text


def test_add_credits_validates(account):
    _, stub = account
    org = new_org(stub).organization.id
    assert call(stub.AddCredits, pb.AddCreditsRequest(organization_id=org, amount=5)).credits.balance == 5
    for amount in (0, -3):
        with pytest.raises(errors.ValidationError):
            call(stub.AddCredits, pb.AddCreditsRequest(organization_id=org, amount=amount))
    with pytest.raises(OrganizationNotFoundError):
        call(stub.AddCredits, pb.AddCreditsRequest(organization_id=str(uuid.uuid4()), amount=5))
    with pytest.raises(OrganizationNotFoundError):
        call(stub.GetCredits, pb.GetCreditsRequest(organization_id="not-a-uuid"))
    assert credits(stub, org).balance == 5


def test_reserve_settle_release_are_idempotent(account):
    _, stub = account
    org = new_org(stub, credits=10).organization.id
    first = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="r1", amount=4))
    again = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="r1", amount=4))
    assert first.reserved and again.reserved
    assert credits(stub, org) == pb.CreditBalance(balance=10, reserved=4, available=6)

    refused = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="r2", amount=7))
    assert not refused.reserved
    call(stub.AddCredits, pb.AddCreditsRequest(organization_id=org, amount=100))
    # The first outcome stands even though the balance could now cover it.
    again = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="r2", amount=7))
    assert not again.reserved

    settled = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="r1", amount=3))
    assert settled.charged == 3
    assert settled.credits == pb.CreditBalance(balance=107, reserved=0, available=107)
    twice = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="r1", amount=50))
    assert twice.charged == 3 and twice.credits == settled.credits
    # A settled reservation cannot be released back.
    call(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id="r1"))
    assert credits(stub, org).balance == 107

    call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="r3", amount=5))
    released = call(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id="r3"))
    assert released.credits == pb.CreditBalance(balance=107, reserved=0, available=107)
    call(stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id="r3"))
    late = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="r3", amount=5))
    assert late.charged == 0 and late.credits.balance == 107

    for method, request in [(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="missing", amount=1)),
                            (stub.ReleaseReservation, pb.ReleaseReservationRequest(reservation_id="missing"))]:
        with pytest.raises(errors.DomainError) as caught:
            call(method, request)
        assert caught.value.name == "NotFoundError" and caught.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(OrganizationNotFoundError):
        call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=str(uuid.uuid4()),
                                                           reservation_id="r4", amount=1))


def test_settle_never_overdraws(account):
    _, stub = account
    org = new_org(stub, credits=10).organization.id
    call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="a", amount=1))
    call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id="b", amount=1))
    # A long call costs more than is left once the other reservation is kept aside.
    first = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="a", amount=25))
    assert first.charged == 9
    assert first.credits == pb.CreditBalance(balance=1, reserved=1, available=0)
    second = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id="b", amount=25))
    assert second.charged == 1
    assert second.credits == pb.CreditBalance(balance=0, reserved=0, available=0)


def test_concurrent_reserve_and_settle_never_go_negative(account):
    system, stub = account
    org = new_org(stub, credits=12).organization.id
    observed: list[pb.CreditBalance] = []

    def one(i: int) -> tuple[bool, int]:
        rid = f"c-{i}"
        answer = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id=rid, amount=1))
        observed.append(answer.credits)
        if not answer.reserved:
            return False, 0
        settled = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id=rid, amount=3))
        observed.append(settled.credits)
        # A redelivered settle must not charge twice.
        repeat = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id=rid, amount=3))
        assert repeat.charged == settled.charged
        return True, settled.charged

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    charged = sum(c for _, c in results)
    assert any(ok for ok, _ in results)
    assert charged == 12  # everything was spent, nothing more
    final = credits(stub, org)
    assert final == pb.CreditBalance(balance=0, reserved=0, available=0)
    assert all(b.balance >= 0 and b.available >= 0 for b in observed)
    with psycopg.connect(system.database_url) as conn:
        total = conn.execute("SELECT coalesce(sum(charged), 0) FROM account.reservations").fetchone()[0]
    assert total >= charged


def test_concurrent_reserves_never_exceed_balance(account):
    _, stub = account
    org = new_org(stub, credits=10).organization.id

    def reserve(i: int) -> bool:
        return call(stub.ReserveCredits, pb.ReserveCreditsRequest(
            organization_id=org, reservation_id=f"p-{org}-{i % 40}", amount=1)).reserved

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(reserve, range(80)))
    assert credits(stub, org) == pb.CreditBalance(balance=10, reserved=10, available=0)
    # Each reservation id has one outcome however often it is repeated.
    by_id: dict[int, set[bool]] = {}
    for i, ok in enumerate(outcomes):
        by_id.setdefault(i % 40, set()).add(ok)
    assert all(len(v) == 1 for v in by_id.values())
    assert sum(1 for v in by_id.values() if True in v) == 10
