"""The DID registry over gRPC against real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from kernel import errors
from outbound.dialer.v1 import dialer_pb2 as pb
from services.dialer.domain.errors import DidNotAccessibleError, DidNotActiveError, DidNotFoundError
from tests.integration.dialer.helpers import Stubs, rpc


@pytest.fixture(scope="module")
def stubs(system_factory):
    system = system_factory(services=["dialer"], gateway=False)
    stubs = Stubs(system)
    yield stubs
    stubs.close()


def org() -> str:
    return str(uuid.uuid4())


def unique(prefix: str = "+21252", length: int = 12) -> str:
    rest = length - len(prefix) + 1
    return f"{prefix}{uuid.uuid4().int % 10**rest:0{rest}d}"


def available(stubs, organization: str) -> set[str]:
    return {d.id for d in rpc(stubs.dialer.ListAvailableDids,
                              pb.ListAvailableDidsRequest(organization_id=organization)).dids}


def resolve(stubs, organization: str, ids: list[str], validate: bool) -> list[pb.Did]:
    return list(rpc(stubs.dialer.ResolveDids, pb.ResolveDidsRequest(
        organization_id=organization, did_ids=ids, validate=validate)).dids)


def test_add_did_normalizes_and_validates(stubs):
    number = unique()
    did = rpc(stubs.dialer.AddDid, pb.AddDidRequest(number=number, country="ma"))
    assert (did.number, did.country, did.status, did.deleted) == (number, "MA", "active", False)
    assert not did.HasField("organization_id")
    for bad, field in [(pb.AddDidRequest(number="0612345678", country="MA"), "number"),
                       (pb.AddDidRequest(number="+2126", country="MA"), "number"),
                       (pb.AddDidRequest(number=unique(), country="XX"), "country"),
                       (pb.AddDidRequest(number=unique(), country="FR"), "number"),
                       (pb.AddDidRequest(number=unique(), country="MA", organization_id="nope"), "organizationId")]:
        with pytest.raises(errors.ValidationError) as info:
            rpc(stubs.dialer.AddDid, bad)
        assert info.value.field == field


def test_number_is_unique_among_live_dids_and_reusable_after_delete(stubs):
    number = unique()
    first = rpc(stubs.dialer.AddDid, pb.AddDidRequest(number=number, country="MA"))
    with pytest.raises(errors.ConflictError):
        rpc(stubs.dialer.AddDid, pb.AddDidRequest(number=number, country="MA"))
    deleted = rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id=first.id))
    assert deleted.deleted
    again = rpc(stubs.dialer.AddDid, pb.AddDidRequest(number=number, country="MA"))
    assert again.id != first.id


def test_available_dids_are_active_live_shared_or_own(stubs):
    mine, theirs = org(), org()
    shared = stubs.did(unique())
    own = stubs.did(unique(), org=mine)
    other = stubs.did(unique(), org=theirs)
    inactive = stubs.did(unique(), org=mine, inactive=True)
    deleted = stubs.did(unique(), org=mine)
    rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id=deleted))
    seen = available(stubs, mine)
    assert {shared, own} <= seen
    assert not {other, inactive, deleted} & seen
    assert other in available(stubs, theirs) and own not in available(stubs, theirs)

    rpc(stubs.dialer.SetDidStatus, pb.SetDidStatusRequest(id=inactive, status="active"))
    rpc(stubs.dialer.SetDidStatus, pb.SetDidStatusRequest(id=own, status="inactive"))
    seen = available(stubs, mine)
    assert inactive in seen and own not in seen


def test_status_and_delete_of_unknown_dids(stubs):
    with pytest.raises(DidNotFoundError):
        rpc(stubs.dialer.SetDidStatus, pb.SetDidStatusRequest(id=str(uuid.uuid4()), status="active"))
    with pytest.raises(DidNotFoundError):
        rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id="not-a-uuid"))
    did = stubs.did(unique())
    with pytest.raises(errors.ValidationError):
        rpc(stubs.dialer.SetDidStatus, pb.SetDidStatusRequest(id=did, status="paused"))
    rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id=did))
    with pytest.raises(DidNotFoundError):
        rpc(stubs.dialer.SetDidStatus, pb.SetDidStatusRequest(id=did, status="inactive"))


def test_resolve_with_validation_names_the_first_bad_entry(stubs):
    mine, theirs = org(), org()
    good = stubs.did(unique(), org=mine)
    shared = stubs.did(unique())
    inactive = stubs.did(unique(), org=mine, inactive=True)
    private = stubs.did(unique(), org=theirs)
    deleted = stubs.did(unique(), org=mine)
    rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id=deleted))

    assert [d.id for d in resolve(stubs, mine, [shared, good], True)] == [shared, good]
    cases = [([good, str(uuid.uuid4())], DidNotFoundError, "didPool[1]"),
             ([good, "junk"], DidNotFoundError, "didPool[1]"),
             ([good, shared, deleted], DidNotFoundError, "didPool[2]"),
             ([inactive, private], DidNotActiveError, "didPool[0]"),
             ([good, private, inactive], DidNotAccessibleError, "didPool[1]")]
    for ids, error, field in cases:
        with pytest.raises(error) as info:
            resolve(stubs, mine, ids, True)
        assert info.value.field == field


def test_resolve_without_validation_flags_instead_of_failing(stubs):
    mine, theirs = org(), org()
    good = stubs.did(unique(), org=mine)
    inactive = stubs.did(unique(), org=mine, inactive=True)
    private = stubs.did(unique(), org=theirs)
    deleted = stubs.did(unique(), org=mine)
    rpc(stubs.dialer.DeleteDid, pb.DeleteDidRequest(id=deleted))
    dids = resolve(stubs, mine, [deleted, "junk", private, inactive, str(uuid.uuid4()), good], False)
    assert [(d.id, d.status, d.deleted) for d in dids] == [
        (deleted, "active", True), (inactive, "inactive", False), (good, "active", False)]
