"""The organizations' dispatch limits in the account service against real PostgreSQL: defaults
from the service's environment, set, partial updates, reset, refused values that write nothing,
unknown organizations, many organizations in one List, and the `outbound admin org limits` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from kernel import errors
from outbound.account.v1 import account_pb2 as pb
from outbound.account.v1 import account_pb2_grpc
from tests.integration.account.test_account_service import call
from tests.support.system import System

ALL = ["maxConcurrentCalls", "maxCallsPerSecond", "weight"]
ENV_DEFAULTS = {"ORG_MAX_CONCURRENT_CALLS": "40", "ORG_MAX_CALLS_PER_SECOND": "5", "ORG_WEIGHT": "3"}
DEFAULTS = pb.DispatchLimits(max_concurrent_calls=40, max_calls_per_second=5, weight=3)


@pytest.fixture(scope="module")
def account(system_factory):
    system = system_factory(services=["account"], gateway=False, extra_env=ENV_DEFAULTS)
    channel = system.channel("account")
    yield system, account_pb2_grpc.AccountServiceStub(channel)
    channel.close()


@pytest.fixture
def stub(account):
    return account[1]


def new_org(stub) -> str:
    return call(stub.CreateOrganization, pb.CreateOrganizationRequest(name="Org")).organization.id


def get(stub, org: str) -> pb.GetDispatchLimitsResponse:
    return call(stub.GetDispatchLimits, pb.GetDispatchLimitsRequest(organization_id=org))


def put(stub, org: str, **fields) -> pb.SetDispatchLimitsResponse:
    return call(stub.SetDispatchLimits, pb.SetDispatchLimitsRequest(organization_id=org, **fields))


def shape(answer: pb.GetDispatchLimitsResponse | pb.SetDispatchLimitsResponse) -> tuple:
    """Get and Set answer in the same shape (two message types)."""
    return answer.limits, list(answer.defaulted)


def limits(concurrent: int, cps: int, weight: int) -> pb.DispatchLimits:
    return pb.DispatchLimits(max_concurrent_calls=concurrent, max_calls_per_second=cps, weight=weight)


def test_a_new_organization_follows_the_defaults_of_the_environment(stub):
    answer = get(stub, new_org(stub))
    assert answer.limits == DEFAULTS
    assert list(answer.defaulted) == ALL


def test_without_environment_the_defaults_are_no_limit_and_weight_one(system_factory):
    system = system_factory(services=["account"], gateway=False)
    with system.channel("account") as channel:
        plain = account_pb2_grpc.AccountServiceStub(channel)
        answer = get(plain, new_org(plain))
    assert answer.limits == limits(0, 0, 1)
    assert list(answer.defaulted) == ALL


def test_set_all_then_get(stub):
    org = new_org(stub)
    answer = put(stub, org, max_concurrent_calls=100, max_calls_per_second=20, weight=1000)
    assert answer.limits == limits(100, 20, 1000) and list(answer.defaulted) == []
    assert shape(get(stub, org)) == shape(answer)
    # Zero is a stored value (no limit), not the default.
    answer = put(stub, org, max_concurrent_calls=0, max_calls_per_second=0, weight=1)
    assert answer.limits == limits(0, 0, 1) and list(answer.defaulted) == []


def test_absent_fields_keep_their_stored_value(stub):
    org = new_org(stub)
    answer = put(stub, org, max_concurrent_calls=10)
    assert answer.limits == limits(10, 5, 3)
    assert list(answer.defaulted) == ["maxCallsPerSecond", "weight"]
    answer = put(stub, org, weight=7)
    assert answer.limits == limits(10, 5, 7)
    assert list(answer.defaulted) == ["maxCallsPerSecond"]
    unchanged = put(stub, org)
    assert shape(unchanged) == shape(answer), "a change naming nothing changes nothing"
    assert shape(get(stub, org)) == shape(answer)


def test_reset_clears_all_three_before_the_fields_given(stub):
    org = new_org(stub)
    put(stub, org, max_concurrent_calls=10, max_calls_per_second=2, weight=9)
    answer = put(stub, org, reset=True, max_calls_per_second=8)
    assert answer.limits == limits(40, 8, 3)
    assert list(answer.defaulted) == ["maxConcurrentCalls", "weight"]
    answer = put(stub, org, reset=True)
    assert answer.limits == DEFAULTS and list(answer.defaulted) == ALL
    assert shape(get(stub, org)) == shape(answer)


@pytest.mark.parametrize(("fields", "message"), [
    ({"max_concurrent_calls": -1}, "maxConcurrentCalls: must be >= 0"),
    ({"max_calls_per_second": -20}, "maxCallsPerSecond: must be >= 0"),
    ({"weight": 0}, "weight: must be between 1 and 1000"),
    ({"weight": 1001}, "weight: must be between 1 and 1000"),
    ({"max_concurrent_calls": 5, "weight": 0, "reset": True}, "weight: must be between 1 and 1000"),
    ({"max_concurrent_calls": -1, "weight": 2000}, "maxConcurrentCalls: must be >= 0"),
])
def test_refused_values_name_the_field_and_write_nothing(stub, fields, message):
    org = new_org(stub)
    before = put(stub, org, max_concurrent_calls=12, weight=2)
    with pytest.raises(errors.ValidationError) as err:
        put(stub, org, **fields)
    assert err.value.message == message
    assert err.value.name == "ValidationError"
    assert shape(get(stub, org)) == shape(before)


@pytest.mark.parametrize("org", [str(uuid.uuid4()), "not-an-id", ""], ids=["unknown", "malformed", "empty"])
def test_unknown_organizations_are_not_found(stub, org):
    with pytest.raises(errors.NotFoundError) as err:
        get(stub, org)
    assert err.value.name == "OrganizationNotFoundError"
    with pytest.raises(errors.NotFoundError) as err:
        put(stub, org, weight=2)
    assert err.value.name == "OrganizationNotFoundError"


def test_list_answers_the_effective_limits_of_the_known_ids(stub):
    own, partial, fresh = new_org(stub), new_org(stub), new_org(stub)
    put(stub, own, max_concurrent_calls=1, max_calls_per_second=2, weight=3)
    put(stub, partial, weight=50)
    unknown = str(uuid.uuid4())
    asked = [own, partial, fresh, unknown, "not-an-id", own, partial.upper()]
    answer = call(stub.ListDispatchLimits, pb.ListDispatchLimitsRequest(organization_ids=asked))
    assert dict(answer.limits) == {
        own: limits(1, 2, 3), partial: limits(40, 5, 50), fresh: DEFAULTS,
        # Keyed by the id as asked, in whatever spelling the caller used.
        partial.upper(): limits(40, 5, 50)}
    assert len(call(stub.ListDispatchLimits, pb.ListDispatchLimitsRequest()).limits) == 0


def test_concurrent_partial_changes_all_land(stub):
    """Each change locks the row: three operators changing one field each lose nothing."""
    orgs = [new_org(stub) for _ in range(8)]
    changes = [{"max_concurrent_calls": 11}, {"max_calls_per_second": 22}, {"weight": 33}]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda job: put(stub, job[0], **job[1]), [(o, c) for o in orgs for c in changes]))
    for org in orgs:
        answer = get(stub, org)
        assert answer.limits == limits(11, 22, 33) and list(answer.defaulted) == []


# --- `outbound admin org limits` ------------------------------------------------------------------

def admin(system: System, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", "org", "limits", *args],
                          env={**os.environ, **system.env}, capture_output=True, text=True, timeout=60)


def ok(system: System, *args: str) -> dict:
    done = admin(system, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_shows_changes_and_resets(account):
    system, stub = account
    org = new_org(stub)
    assert ok(system, "--org", org) == {"organizationId": org, "maxConcurrentCalls": 40, "maxCallsPerSecond": 5,
                                        "weight": 3, "defaulted": ALL}
    assert ok(system, "--org", org, "--concurrent", "25", "--weight", "4") == {
        "organizationId": org, "maxConcurrentCalls": 25, "maxCallsPerSecond": 5, "weight": 4,
        "defaulted": ["maxCallsPerSecond"]}
    assert ok(system, "--org", org, "--cps", "0")["defaulted"] == []
    assert get(stub, org).limits == limits(25, 0, 4)
    assert ok(system, "--org", org, "--reset", "--cps", "9") == {
        "organizationId": org, "maxConcurrentCalls": 40, "maxCallsPerSecond": 9, "weight": 3,
        "defaulted": ["maxConcurrentCalls", "weight"]}
    assert ok(system, "--org", org, "--reset")["defaulted"] == ALL


@pytest.mark.parametrize(("args", "error"), [
    (("--weight", "0"), "ValidationError"),
    (("--concurrent", "-1", "--cps", "3"), "ValidationError"),
])
def test_cli_errors_are_printed_as_json_and_change_nothing(account, args, error):
    system, stub = account
    org = new_org(stub)
    done = admin(system, "--org", org, *args)
    assert done.returncode == 1
    body = json.loads(done.stderr.strip().splitlines()[-1])
    assert body["error"] == error and body["message"]
    assert list(get(stub, org).defaulted) == ALL


@pytest.mark.parametrize("args", [(), ("--weight", "2")])
def test_cli_unknown_organization(account, args):
    system, _ = account
    done = admin(system, "--org", "00000000-0000-0000-0000-000000000000", *args)
    assert done.returncode == 1
    assert json.loads(done.stderr.strip().splitlines()[-1])["error"] == "OrganizationNotFoundError"
