"""/api/programs with callingHours and retryStrategy.retryOn: each preset and a custom week read back
as sent, PATCH sets and clears them, every validation rule refuses and writes nothing."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from kernel import errors
from outbound.program.v1 import program_pb2 as pb
from outbound.program.v1 import program_pb2_grpc
from tests.e2e.test_programs import Tenant
from tests.support.system import System

pytestmark = pytest.mark.e2e

NINE_TO_FIVE = {"startAt": {"hour": 9, "minute": 0}, "endAt": {"hour": 17, "minute": 0}}
CUSTOM = {"preset": "custom", "windows": {
    "monday": [NINE_TO_FIVE, {"startAt": {"hour": 18, "minute": 30}, "endAt": {"hour": 20, "minute": 15}}],
    "friday": [{"startAt": {"hour": 20, "minute": 0}, "endAt": {"hour": 2, "minute": 0}}],
}}


@pytest.fixture
def tenant(system: System) -> Tenant:
    return Tenant(system)


def created(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    program = tenant.create(tenant.batch(**changes))
    assert tenant.org.get(f"/programs/{program['id']}").json() == program
    return program


# ------------------------------------------------------------------- read back as sent


@pytest.mark.parametrize("preset", ["us_tcpa", "fr_2023"])
def test_a_preset_reads_back_by_its_name(tenant: Tenant, preset: str):
    program = created(tenant, callingHours={"preset": preset})
    assert program["callingHours"] == {"preset": preset}


def test_a_custom_week_reads_back_as_sent(tenant: Tenant):
    body = {**CUSTOM, "windows": {**CUSTOM["windows"], "sunday": None}}  # a null day is no day
    assert created(tenant, callingHours=body)["callingHours"] == CUSTOM


def test_without_them_calling_hours_are_null_and_retry_on_absent(tenant: Tenant):
    program = created(tenant)
    assert program["callingHours"] is None
    assert program["retryStrategy"] == {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2}


def test_retry_on_reads_back_for_both_retrying_types(tenant: Tenant):
    fixed = {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2, "retryOn": ["busy"]}
    assert created(tenant, retryStrategy=fixed)["retryStrategy"] == fixed
    scheduled = {"type": "scheduled", "retryDates": ["2025-12-21T09:00:00.000Z"],
                 "retryOn": ["voicemail", "no_answer"]}
    assert created(tenant, retryStrategy=scheduled)["retryStrategy"] == scheduled


def test_patch_sets_changes_and_clears_them(tenant: Tenant):
    program = created(tenant)
    path = f"/programs/{program['id']}"
    patched = tenant.org.patch(path, json={"callingHours": {"preset": "fr_2023"}}).json()
    assert patched["callingHours"] == {"preset": "fr_2023"}
    patched = tenant.org.patch(path, json={"name": "Renamed"}).json()
    assert patched["callingHours"] == {"preset": "fr_2023"}, "a PATCH of another field keeps them"
    patched = tenant.org.patch(path, json={"callingHours": CUSTOM, "retryStrategy": {
        "type": "fixed_delay", "delayMinutes": 10, "maxRetries": 1, "retryOn": ["failed", "busy"]}}).json()
    assert patched["callingHours"] == CUSTOM and patched["retryStrategy"]["retryOn"] == ["failed", "busy"]
    patched = tenant.org.patch(path, json={"callingHours": None}).json()
    assert patched["callingHours"] is None
    assert tenant.org.get(path).json() == patched


# ------------------------------------------------------------------- validation


def _hours(value: Any) -> dict[str, Any]:
    return {"callingHours": value}


def _retry_on(value: Any) -> dict[str, Any]:
    return {"retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2, "retryOn": value}}


def _window(start: tuple[int, int], end: tuple[int, int]) -> dict[str, Any]:
    return {"preset": "custom", "windows": {"tuesday": [NINE_TO_FIVE, {
        "startAt": {"hour": start[0], "minute": start[1]}, "endAt": {"hour": end[0], "minute": end[1]}}]}}


RULES = [
    ("preset-unknown", _hours({"preset": "eu"}), "callingHours.preset:"),
    ("preset-missing", _hours({"windows": CUSTOM["windows"]}), "callingHours.preset:"),
    ("preset-with-windows", _hours({"preset": "us_tcpa", "windows": {"monday": [NINE_TO_FIVE]}}),
     "callingHours.windows: must not be set for preset us_tcpa (its windows are fixed)"),
    ("preset-with-empty-windows", _hours({"preset": "fr_2023", "windows": {}}),
     "callingHours.windows: must not be set for preset fr_2023 (its windows are fixed)"),
    ("custom-without-windows", _hours({"preset": "custom"}), "callingHours.windows: is required for preset custom"),
    ("custom-empty-week", _hours({"preset": "custom", "windows": {}}),
     "callingHours.windows: must hold at least one window"),
    ("custom-empty-days", _hours({"preset": "custom", "windows": {"monday": [], "sunday": []}}),
     "callingHours.windows: must hold at least one window"),
    ("hour", _hours(_window((24, 0), (2, 0))), "callingHours.windows.tuesday[1].startAt.hour: must be between 0 and 23"),
    ("minute", _hours(_window((8, 0), (9, 60))),
     "callingHours.windows.tuesday[1].endAt.minute: must be between 0 and 59"),
    ("empty-window", _hours(_window((8, 30), (8, 30))), "callingHours.windows.tuesday[1].endAt: must differ from startAt"),
    ("unknown-weekday", _hours({"preset": "custom", "windows": {"caturday": [NINE_TO_FIVE]}}),
     "callingHours.windows.caturday: unknown field"),
    ("unknown-field", _hours({"preset": "us_tcpa", "holidays": True}), "callingHours.holidays: unknown field"),
    ("retry-on-empty", _retry_on([]),
     "retryStrategy.retryOn: must name at least one of busy, no_answer, failed, voicemail (type none never retries)"),
    ("retry-on-duplicate", _retry_on(["busy", "no_answer", "busy"]),
     "retryStrategy.retryOn[2]: duplicate outcome 'busy'"),
    ("retry-on-other", {"retryStrategy": {"type": "scheduled", "retryDates": ["2025-12-21T09:00:00Z"],
                                          "retryOn": ["invalid_number"]}},
     "retryStrategy.retryOn[0]: must be one of busy, no_answer, failed, voicemail"),
    ("retry-on-answered", _retry_on(["answered"]), "retryStrategy.retryOn[0]: must be one of busy, no_answer"),
    ("retry-on-for-none", {"retryStrategy": {"type": "none", "retryOn": ["busy"]}}, "retryStrategy"),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in RULES])
def test_each_rule_refuses_and_writes_nothing(tenant: Tenant, change: dict[str, Any], message: str):
    assert tenant.refused(tenant.batch(**change)).startswith(message)


PATCH_RULES = ("preset-with-windows", "hour", "retry-on-duplicate")


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in RULES if i in PATCH_RULES])
def test_patch_refuses_and_writes_nothing(tenant: Tenant, change: dict[str, Any], message: str):
    program = created(tenant, callingHours={"preset": "us_tcpa"})
    answer = tenant.org.patch(f"/programs/{program['id']}", json=change)
    assert (answer.status_code, answer.json()["error"]) == (400, "ValidationError"), answer.text
    assert answer.json()["message"].startswith(message)
    assert tenant.org.get(f"/programs/{program['id']}").json() == program


def test_the_service_itself_refuses_an_unknown_preset(tenant: Tenant, system: System):
    """gRPC callers other than the gateway get the same rule, named the same way."""
    body = pb.ProgramInput(name="Direct", audience_id=tenant.audience_id, flow_id=tenant.flow_id,
                           start_at="2025-12-20T09:00:00Z", did_pool=[tenant.dids[0].id],
                           retry_strategy=pb.RetryStrategy(type="none"), calling_hours=pb.CallingHours(preset="eu"))
    with system.channel("program") as channel, pytest.raises(grpc.RpcError) as caught:
        program_pb2_grpc.ProgramServiceStub(channel).CreateProgram(
            pb.CreateProgramRequest(organization_id=tenant.org.id, program=body), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = errors.from_rpc_error(caught.value)
    assert error.message == "callingHours.preset: must be one of us_tcpa, fr_2023, custom"


def test_openapi_documents_the_fields(system: System):
    schemas = system.http.get("/openapi.json").json()["components"]["schemas"]
    assert "callingHours" in schemas["ProgramResponse"]["properties"]
    assert "callingHours" in schemas["CreateProgramRequest"]["properties"]
    assert "callingHours" in schemas["UpdateProgramRequest"]["properties"]
    assert set(schemas["CallingHoursIn"]["properties"]["preset"]["enum"]) == {"us_tcpa", "fr_2023", "custom"}
    assert "retryOn" in schemas["RetryFixedDelayIn"]["properties"]
    assert "retryOn" in schemas["RetryScheduledIn"]["properties"]
