"""The organization's contact limits in the account service against real PostgreSQL: none by
default, set, replaced and removed, checked against the bounds, per organization."""

from __future__ import annotations

import uuid

import pytest

from kernel import errors
from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from tests.integration.account.test_account_service import call


@pytest.fixture(scope="module")
def stub(system_factory):
    system = system_factory(services=["account"], gateway=False)
    channel = system.channel("account")
    yield account_pb2_grpc.AccountServiceStub(channel)
    channel.close()


def new_org(stub) -> str:
    return call(stub.CreateOrganization, pb.CreateOrganizationRequest(name="Org")).organization.id


def get(stub, org: str) -> pb.GetContactLimitsResponse:
    return call(stub.GetContactLimits, pb.GetContactLimitsRequest(organization_id=org))


def put(stub, org: str, limits: pb.ContactLimits | None) -> pb.SetContactLimitsResponse:
    return call(stub.SetContactLimits, pb.SetContactLimitsRequest(organization_id=org, limits=limits))


def test_limits_are_absent_until_set_and_removed_by_absence(stub):
    org = new_org(stub)
    assert not get(stub, org).HasField("limits")
    answer = put(stub, org, pb.ContactLimits(max_attempts=4, per_days=30))
    assert answer.limits == pb.ContactLimits(max_attempts=4, per_days=30)
    assert get(stub, org).limits == pb.ContactLimits(max_attempts=4, per_days=30)
    assert put(stub, org, pb.ContactLimits(max_attempts=2, per_days=1)).limits == pb.ContactLimits(
        max_attempts=2, per_days=1)
    assert get(stub, org).limits == pb.ContactLimits(max_attempts=2, per_days=1)
    assert not put(stub, org, None).HasField("limits")
    assert not get(stub, org).HasField("limits")
    assert not put(stub, org, None).HasField("limits"), "removing again changes nothing"


def test_each_organization_has_its_own_limits(stub):
    first, second = new_org(stub), new_org(stub)
    put(stub, first, pb.ContactLimits(max_attempts=1000, per_days=365))
    assert not get(stub, second).HasField("limits")
    put(stub, second, pb.ContactLimits(max_attempts=1, per_days=1))
    assert get(stub, first).limits == pb.ContactLimits(max_attempts=1000, per_days=365)


@pytest.mark.parametrize(("limits", "message"), [
    ((0, 30), "maxAttempts: must be between 1 and 1000"),
    ((1001, 30), "maxAttempts: must be between 1 and 1000"),
    ((-4, 30), "maxAttempts: must be between 1 and 1000"),
    ((4, 0), "perDays: must be between 1 and 365"),
    ((4, 366), "perDays: must be between 1 and 365"),
    ((0, 0), "maxAttempts: must be between 1 and 1000"),
])
def test_limits_out_of_bounds_are_refused_and_change_nothing(stub, limits, message):
    org = new_org(stub)
    put(stub, org, pb.ContactLimits(max_attempts=3, per_days=7))
    with pytest.raises(errors.ValidationError) as err:
        put(stub, org, pb.ContactLimits(max_attempts=limits[0], per_days=limits[1]))
    assert err.value.message == message
    assert get(stub, org).limits == pb.ContactLimits(max_attempts=3, per_days=7)


@pytest.mark.parametrize("org", [str(uuid.uuid4()), "not-an-id", ""], ids=["unknown", "malformed", "empty"])
def test_unknown_organizations_are_not_found(stub, org):
    with pytest.raises(errors.NotFoundError) as err:
        get(stub, org)
    assert err.value.name == "OrganizationNotFoundError"
    with pytest.raises(errors.NotFoundError, match="Organization not found"):
        put(stub, org, pb.ContactLimits(max_attempts=4, per_days=30))
    with pytest.raises(errors.NotFoundError, match="Organization not found"):
        put(stub, org, None)
