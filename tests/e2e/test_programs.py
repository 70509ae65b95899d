"""/api/programs end to end: the spec's examples, every validation rule, tenancy, paging, archive."""

from __future__ import annotations

import copy
import itertools
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from outbound.audience.v1 import audience_pb2, audience_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from tests.support.system import DEFAULT_FLOW, Org, System

pytestmark = pytest.mark.e2e

# DID numbers are unique system-wide: a random block per module run.
_numbers = itertools.count(random.randrange(10_000_000, 90_000_000, 1000))
ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
PROGRAM_KEYS = {"id", "name", "mode", "organizationId", "audienceId", "flowId", "status", "triggerCondition",
                "startAt", "stopAt", "didPool", "retryStrategy", "pauseWindows", "autoPauseRules", "createdAt",
                "updatedAt", "timezone", "maxConcurrentCalls", "callingHours", "answeringMachine"}
LUNCH = {"monday": [{"startAt": {"hour": 12, "minute": 0}, "endAt": {"hour": 14, "minute": 0}}]}


class Tenant:
    """An organization with what a program refers to: a flow, an audience, attributes, DIDs."""

    def __init__(self, system: System):
        self.system = system
        self.org: Org = system.create_org()
        flow = self.org.post("/flows", json=DEFAULT_FLOW)
        assert flow.status_code == 201, flow.text
        self.flow_id = flow.json()["id"]
        audience = self.org.post("/audiences", json={"name": "Customers"})
        assert audience.status_code == 201, audience.text
        self.audience_id = audience.json()["id"]
        for name, kind in (("date_echeance", "date"), ("score", "number")):
            made = self.org.post("/custom-attributes", json={"name": name, "slug": name, "type": kind})
            assert made.status_code == 201, made.text
        self.dids = [self.did(), self.did()]

    def did(self, **kw: Any) -> dialer_pb2.Did:
        return self.system.add_did(f"+2125{next(_numbers):08d}", "MA", org=self.org.id, **kw)

    def batch(self, **changes: Any) -> dict[str, Any]:
        body = {
            "name": "Holiday Campaign 2025",
            "audienceId": self.audience_id,
            "flowId": self.flow_id,
            "startAt": "2025-12-20T09:00:00Z",
            "stopAt": "2025-12-20T18:00:00Z",
            "didPool": [d.id for d in self.dids],
            "retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2},
            "pauseWindows": copy.deepcopy(LUNCH),
            "autoPauseRules": [{"nodeId": "menu", "threshold": 100, "resetOnResume": True}],
        }
        body.update(changes)
        return body

    def live(self, **changes: Any) -> dict[str, Any]:
        body = {
            "name": "Payment Reminder",
            "mode": "live",
            "flowId": self.flow_id,
            "triggerCondition": {"type": "date", "attributeName": "date_echeance", "direction": "before",
                                 "offset": {"days": 2, "hours": 15, "minutes": 0}},
            "startAt": "2026-03-01T09:00:00Z",
            "stopAt": "2026-06-01T00:00:00Z",
            "didPool": [self.dids[0].id],
            "retryStrategy": {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2},
            "pauseWindows": copy.deepcopy(LUNCH),
        }
        body.update(changes)
        return body

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.org.post("/programs", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def count(self) -> int:
        answer = self.org.get("/programs", params={"limit": 1000})
        assert answer.status_code == 200, answer.text
        return len(answer.json())

    def refused(self, body: dict[str, Any], status: int = 400, error: str = "ValidationError") -> str:
        """POST must fail with `status`/`error` and write nothing; answers the message."""
        before = self.count()
        answer = self.org.post("/programs", json=body)
        assert (answer.status_code, answer.json()["error"]) == (status, error), answer.text
        assert self.count() == before
        return answer.json()["message"]


@pytest.fixture
def tenant(system: System) -> Tenant:
    return Tenant(system)


# ------------------------------------------------------------------- the spec's examples


def test_batch_example_answers_the_documented_shape(tenant: Tenant):
    program = tenant.create(tenant.batch())
    assert set(program) == PROGRAM_KEYS
    assert program["status"] == "draft" and program["mode"] == "batch"
    assert program["organizationId"] == tenant.org.id
    assert program["audienceId"] == tenant.audience_id and program["flowId"] == tenant.flow_id
    assert program["triggerCondition"] is None
    assert (program["startAt"], program["stopAt"]) == ("2025-12-20T09:00:00.000Z", "2025-12-20T18:00:00.000Z")
    assert program["didPool"] == [{"id": d.id, "number": d.number, "country": "MA"} for d in tenant.dids]
    assert program["retryStrategy"] == {"type": "fixed_delay", "delayMinutes": 30, "maxRetries": 2}
    assert program["pauseWindows"] == LUNCH
    assert program["autoPauseRules"] == [{"nodeId": "menu", "threshold": 100, "resetOnResume": True}]
    assert (program["timezone"], program["maxConcurrentCalls"]) == ("UTC", 10)
    assert program["createdAt"] == program["updatedAt"]
    for key in ("createdAt", "updatedAt"):
        assert re.match(ISO_MS, program[key])
    assert tenant.org.get(f"/programs/{program['id']}").json() == program
    assert tenant.org.get("/programs").json() == [program]


def test_live_example_creates_its_output_audience(tenant: Tenant, system: System):
    program = tenant.create(tenant.live())
    assert set(program) == PROGRAM_KEYS
    assert program["mode"] == "live" and program["status"] == "draft"
    assert program["triggerCondition"] == tenant.live()["triggerCondition"]
    assert program["autoPauseRules"] is None
    assert program["audienceId"] and program["audienceId"] != tenant.audience_id
    with system.channel("audience") as channel:
        audience = audience_pb2_grpc.AudienceServiceStub(channel).GetAudience(audience_pb2.GetAudienceRequest(
            organization_id=tenant.org.id, audience_id=program["audienceId"]), timeout=30)
    assert audience.name == "Payment Reminder"


def test_live_program_may_name_its_audience(tenant: Tenant):
    assert tenant.create(tenant.live(audienceId=tenant.audience_id))["audienceId"] == tenant.audience_id


def test_minimal_batch_program_answers_nulls(tenant: Tenant):
    body = tenant.batch(retryStrategy={"type": "none"})
    for key in ("stopAt", "pauseWindows", "autoPauseRules"):
        del body[key]
    program = tenant.create(body)
    assert program["retryStrategy"] == {"type": "none"}
    assert (program["stopAt"], program["pauseWindows"], program["autoPauseRules"]) == (None, None, None)


def test_scheduled_retries_advanced_windows_timezone_and_pacing(tenant: Tenant):
    program = tenant.create(tenant.batch(
        retryStrategy={"type": "scheduled", "retryDates": ["2025-12-17T14:00:00Z", "2025-12-18T09:00:00+01:00"]},
        pauseWindows={"friday": [{"startAt": {"hour": 22, "minute": 0}, "endAt": {"hour": 6, "minute": 30}}],
                      "advanced": [{"startAt": "2025-12-25T00:00:00Z", "endAt": "2025-12-26T00:00:00Z"}]},
        timezone="Africa/Casablanca", maxConcurrentCalls=250))
    assert program["retryStrategy"] == {"type": "scheduled",
                                        "retryDates": ["2025-12-17T14:00:00.000Z", "2025-12-18T08:00:00.000Z"]}
    assert program["pauseWindows"]["friday"][0]["endAt"] == {"hour": 6, "minute": 30}
    assert program["pauseWindows"]["advanced"] == [
        {"startAt": "2025-12-25T00:00:00.000Z", "endAt": "2025-12-26T00:00:00.000Z"}]
    assert (program["timezone"], program["maxConcurrentCalls"]) == ("Africa/Casablanca", 250)


# ------------------------------------------------------------------- validation, one case per rule


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return change


_DROP = object()
_dates = [f"2025-12-{day:02d}T09:00:00Z" for day in range(1, 23)]

BATCH_RULES = [
    ("name-empty", _set("name", " "), "name: must not be empty"),
    ("name-too-long", _set("name", "x" * 201), "name: must be at most 200 characters"),
    ("name-missing", _set("name", _DROP), "name:"),
    ("mode-unknown", _set("mode", "hybrid"), "mode:"),
    ("flow-unknown", _set("flowId", str(uuid.uuid4())), "flowId:"),
    ("flow-not-uuid", _set("flowId", "flow-1"), "flowId: must be a UUID"),
    ("audience-unknown", _set("audienceId", str(uuid.uuid4())), "audienceId:"),
    ("audience-missing-for-batch", _set("audienceId", _DROP), "audienceId: is required for batch programs"),
    ("trigger-on-batch", _set("triggerCondition", {"type": "date", "attributeName": "date_echeance",
                                                   "direction": "after", "offset": {"days": 0, "hours": 0,
                                                                                    "minutes": 0}}),
     "triggerCondition: must not be set for batch programs"),
    ("start-missing", _set("startAt", _DROP), "startAt:"),
    ("start-not-iso", _set("startAt", "next monday"), "startAt: must be an ISO 8601 date-time"),
    ("stop-not-iso", _set("stopAt", "2025-13-45"), "stopAt: must be an ISO 8601 date-time"),
    ("stop-before-start", _set("stopAt", "2025-12-20T08:00:00Z"), "stopAt: must be after startAt"),
    ("stop-equals-start", _set("stopAt", "2025-12-20T09:00:00.000Z"), "stopAt: must be after startAt"),
    ("did-pool-empty", _set("didPool", []), "didPool: at least one DID is required"),
    ("did-pool-missing", _set("didPool", _DROP), "didPool:"),
    ("did-not-uuid", _set("didPool", ["did-1"]), "didPool[0]: must be a UUID"),
    ("retry-missing", _set("retryStrategy", _DROP), "retryStrategy:"),
    ("retry-type-unknown", _set("retryStrategy", {"type": "exponential"}), "retryStrategy"),
    ("retry-delay-zero", _set("retryStrategy.delayMinutes", 0),
     "retryStrategy.delayMinutes: must be between 1 and 10080"),
    ("retry-delay-too-long", _set("retryStrategy.delayMinutes", 10081),
     "retryStrategy.delayMinutes: must be between 1 and 10080"),
    ("retry-max-negative", _set("retryStrategy.maxRetries", -1), "retryStrategy.maxRetries: must be between 0 and 20"),
    ("retry-max-too-many", _set("retryStrategy.maxRetries", 21), "retryStrategy.maxRetries: must be between 0 and 20"),
    ("retry-field-of-other-type", _set("retryStrategy.retryDates", [_dates[0]]), "retryStrategy"),
    ("retry-scheduled-none", _set("retryStrategy", {"type": "scheduled", "retryDates": []}),
     "retryStrategy.retryDates: must hold between 1 and 20 dates"),
    ("retry-scheduled-too-many", _set("retryStrategy", {"type": "scheduled", "retryDates": _dates[:21]}),
     "retryStrategy.retryDates: must hold between 1 and 20 dates"),
    ("retry-scheduled-not-increasing", _set("retryStrategy", {"type": "scheduled",
                                                              "retryDates": [_dates[1], _dates[1]]}),
     "retryStrategy.retryDates[1]: must be after retryDates[0]"),
    ("retry-scheduled-not-iso", _set("retryStrategy", {"type": "scheduled", "retryDates": ["tomorrow"]}),
     "retryStrategy.retryDates[0]: must be an ISO 8601 date-time"),
    ("window-hour", _set("pauseWindows.monday.0.startAt.hour", 24),
     "pauseWindows.monday[0].startAt.hour: must be between 0 and 23"),
    ("window-minute", _set("pauseWindows.monday.0.endAt.minute", 60),
     "pauseWindows.monday[0].endAt.minute: must be between 0 and 59"),
    ("window-empty", _set("pauseWindows.monday.0.endAt", {"hour": 12, "minute": 0}),
     "pauseWindows.monday[0].endAt: must differ from startAt"),
    ("window-unknown-day", _set("pauseWindows.caturday", []), "pauseWindows.caturday: unknown field"),
    ("window-advanced-reversed", _set("pauseWindows.advanced", [{"startAt": "2025-12-26T00:00:00Z",
                                                                 "endAt": "2025-12-25T00:00:00Z"}]),
     "pauseWindows.advanced[0].endAt: must be after startAt"),
    ("window-advanced-not-iso", _set("pauseWindows.advanced", [{"startAt": "xmas", "endAt": "2025-12-25T00:00:00Z"}]),
     "pauseWindows.advanced[0].startAt: must be an ISO 8601 date-time"),
    ("rule-node-unknown", _set("autoPauseRules.0.nodeId", "node_abc123"), "autoPauseRules[0].nodeId:"),
    ("rule-threshold-zero", _set("autoPauseRules.0.threshold", 0), "autoPauseRules[0].threshold: must be at least 1"),
    ("rule-duplicate-node", _set("autoPauseRules", [{"nodeId": "menu", "threshold": 1, "resetOnResume": False},
                                                    {"nodeId": "menu", "threshold": 2, "resetOnResume": True}]),
     "autoPauseRules[1].nodeId:"),
    ("timezone-unknown", _set("timezone", "Mars/Olympus_Mons"), "timezone: unknown IANA time zone"),
    ("concurrency-zero", _set("maxConcurrentCalls", 0), "maxConcurrentCalls: must be between 1 and 1000"),
    ("concurrency-too-high", _set("maxConcurrentCalls", 1001), "maxConcurrentCalls: must be between 1 and 1000"),
    ("unknown-field", _set("priority", 1), "priority: unknown field"),
    ("unknown-nested-field", _set("retryStrategy.jitter", 5), "retryStrategy."),
    ("unknown-rule-field", _set("autoPauseRules.0.scope", "x"), "autoPauseRules[0].scope: unknown field"),
    ("wrong-type", _set("didPool", "did-1"), "didPool:"),
]

LIVE_RULES = [
    ("trigger-missing-for-live", _set("triggerCondition", _DROP), "triggerCondition: is required for live programs"),
    ("trigger-type", _set("triggerCondition.type", "number"), "triggerCondition.type:"),
    ("trigger-attribute-unknown", _set("triggerCondition.attributeName", "date_naissance"),
     "triggerCondition.attributeName: no custom attribute 'date_naissance'"),
    ("trigger-attribute-not-date", _set("triggerCondition.attributeName", "score"),
     "triggerCondition.attributeName: custom attribute 'score' is of type number, not date"),
    ("trigger-direction", _set("triggerCondition.direction", "around"), "triggerCondition.direction:"),
    ("trigger-days-negative", _set("triggerCondition.offset.days", -1), "triggerCondition.offset.days:"),
    ("trigger-hours", _set("triggerCondition.offset.hours", 24),
     "triggerCondition.offset.hours: must be between 0 and 23"),
    ("trigger-minutes", _set("triggerCondition.offset.minutes", 60),
     "triggerCondition.offset.minutes: must be between 0 and 59"),
    ("trigger-unknown-field", _set("triggerCondition.offset.seconds", 1),
     "triggerCondition.offset.seconds: unknown field"),
    ("live-audience-unknown", _set("audienceId", str(uuid.uuid4())), "audienceId:"),
]


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in BATCH_RULES])
def test_batch_rule(tenant: Tenant, change, message):
    body = tenant.batch()
    change(body)
    assert tenant.refused(body).startswith(message)


@pytest.mark.parametrize(("change", "message"), [pytest.param(c, m, id=i) for i, c, m in LIVE_RULES])
def test_live_rule(tenant: Tenant, change, message):
    audiences_before = _audience_count(tenant)
    body = tenant.live()
    change(body)
    assert tenant.refused(body).startswith(message)
    assert _audience_count(tenant) == audiences_before, "no output audience for a refused program"


def _audience_count(tenant: Tenant) -> int:
    with tenant.system.channel("audience") as channel:
        return len(audience_pb2_grpc.AudienceServiceStub(channel).ListAudiences(
            audience_pb2.ListAudiencesRequest(organization_id=tenant.org.id, page_size=1000), timeout=30).audiences)


def test_duplicate_did_names_its_position(tenant: Tenant):
    body = tenant.batch(didPool=[tenant.dids[0].id, tenant.dids[1].id, tenant.dids[0].id])
    assert tenant.refused(body) == "didPool[2]: duplicate DID id"


def test_references_of_another_organization_are_refused(tenant: Tenant, system: System):
    other = Tenant(system)
    assert tenant.refused(tenant.batch(flowId=other.flow_id)).startswith("flowId:")
    assert tenant.refused(tenant.batch(audienceId=other.audience_id)).startswith("audienceId:")


def test_window_wrapping_past_midnight_is_accepted(tenant: Tenant):
    windows = {"sunday": [{"startAt": {"hour": 23, "minute": 30}, "endAt": {"hour": 0, "minute": 15}}]}
    assert tenant.create(tenant.batch(pauseWindows=windows))["pauseWindows"] == windows


# ------------------------------------------------------------------- the spec's DID errors


def test_unknown_did_is_did_not_found(tenant: Tenant):
    tenant.refused(tenant.batch(didPool=[tenant.dids[0].id, str(uuid.uuid4())]), 404, "DidNotFoundError")


def test_inactive_did_is_did_not_active(tenant: Tenant):
    inactive = tenant.did(inactive=True)
    tenant.refused(tenant.batch(didPool=[inactive.id]), 400, "DidNotActiveError")


def test_did_of_another_organization_is_not_accessible(tenant: Tenant, system: System):
    foreign = system.add_did(f"+2125{next(_numbers):08d}", "MA", org=system.create_org().id)
    tenant.refused(tenant.batch(didPool=[foreign.id]), 400, "DidNotAccessibleError")


def test_shared_did_is_usable_and_deleted_did_leaves_the_pool(tenant: Tenant, system: System):
    shared = system.add_did(f"+2125{next(_numbers):08d}", "MA")
    program = tenant.create(tenant.batch(didPool=[shared.id, tenant.dids[0].id]))
    assert [d["id"] for d in program["didPool"]] == [shared.id, tenant.dids[0].id]
    with system.channel("dialer") as channel:
        dialer_pb2_grpc.DialerServiceStub(channel).DeleteDid(dialer_pb2.DeleteDidRequest(id=shared.id), timeout=30)
    assert [d["id"] for d in tenant.org.get(f"/programs/{program['id']}").json()["didPool"]] == [tenant.dids[0].id]


# ------------------------------------------------------------------- PATCH


def test_patch_changes_only_the_fields_sent(tenant: Tenant):
    program = tenant.create(tenant.batch())
    answer = tenant.org.patch(f"/programs/{program['id']}",
                              json={"name": "Updated Campaign Name", "retryStrategy": {"type": "none"}})
    assert answer.status_code == 200, answer.text
    patched = answer.json()
    assert patched["name"] == "Updated Campaign Name" and patched["retryStrategy"] == {"type": "none"}
    unchanged = {k: v for k, v in program.items() if k not in ("name", "retryStrategy", "updatedAt")}
    assert {k: v for k, v in patched.items() if k in unchanged} == unchanged
    assert patched["updatedAt"] >= program["updatedAt"]
    assert tenant.org.get(f"/programs/{program['id']}").json() == patched


def test_patch_null_clears_optional_fields(tenant: Tenant):
    program = tenant.create(tenant.batch())
    patched = tenant.org.patch(f"/programs/{program['id']}",
                               json={"stopAt": None, "pauseWindows": None, "autoPauseRules": None}).json()
    assert (patched["stopAt"], patched["pauseWindows"], patched["autoPauseRules"]) == (None, None, None)
    assert patched["name"] == program["name"]


def test_patch_of_pacing_and_timezone(tenant: Tenant):
    program = tenant.create(tenant.batch())
    patched = tenant.org.patch(f"/programs/{program['id']}",
                               json={"timezone": "Europe/Paris", "maxConcurrentCalls": 3}).json()
    assert (patched["timezone"], patched["maxConcurrentCalls"]) == ("Europe/Paris", 3)


@pytest.mark.parametrize(("patch", "message"), [
    pytest.param({"mode": "live"}, "mode:", id="mode-not-patchable"),
    pytest.param({"stopAt": "2025-12-19T00:00:00Z"}, "stopAt: must be after startAt", id="merged-schedule"),
    pytest.param({"startAt": "2025-12-21T00:00:00Z"}, "stopAt: must be after startAt", id="merged-start"),
    pytest.param({"name": None}, "name: must not be empty", id="name-null"),
    pytest.param({"didPool": []}, "didPool: at least one DID is required", id="did-pool-empty"),
    pytest.param({"retryStrategy": {"type": "fixed_delay", "delayMinutes": 0, "maxRetries": 1}},
                 "retryStrategy.delayMinutes: must be between 1 and 10080", id="retry"),
    pytest.param({"triggerCondition": {"type": "date", "attributeName": "date_echeance", "direction": "after",
                                       "offset": {"days": 1, "hours": 0, "minutes": 0}}},
                 "triggerCondition: must not be set for batch programs", id="trigger-on-batch"),
    pytest.param({"audienceId": str(uuid.uuid4())}, "audienceId:", id="audience-unknown"),
    pytest.param({"autoPauseRules": [{"nodeId": "nowhere", "threshold": 1, "resetOnResume": False}]},
                 "autoPauseRules[0].nodeId:", id="rule-node"),
    pytest.param({"status": "active"}, "status: unknown field", id="status-read-only"),
])
def test_patch_rule_writes_nothing(tenant: Tenant, patch, message):
    program = tenant.create(tenant.batch())
    answer = tenant.org.patch(f"/programs/{program['id']}", json=patch)
    assert answer.status_code == 400 and answer.json()["error"] == "ValidationError", answer.text
    assert answer.json()["message"].startswith(message)
    assert tenant.org.get(f"/programs/{program['id']}").json() == program


def test_patch_of_flow_rechecks_auto_pause_rules(tenant: Tenant):
    program = tenant.create(tenant.batch())
    other_flow = tenant.org.post("/flows", json={
        "name": "Short", "startNodeId": "bye", "nodes": [{"id": "bye", "type": "hangup"}]}).json()["id"]
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"flowId": other_flow})
    assert answer.status_code == 400 and answer.json()["message"].startswith("autoPauseRules[0].nodeId:")
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"flowId": other_flow, "autoPauseRules": None})
    assert answer.status_code == 200 and answer.json()["flowId"] == other_flow


def test_patch_of_did_pool_checks_the_dids(tenant: Tenant):
    program = tenant.create(tenant.batch())
    inactive = tenant.did(inactive=True)
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"didPool": [inactive.id]})
    assert (answer.status_code, answer.json()["error"]) == (400, "DidNotActiveError")
    fresh = tenant.did()
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"didPool": [fresh.id]})
    assert answer.json()["didPool"] == [{"id": fresh.id, "number": fresh.number, "country": "MA"}]


def test_patch_of_live_trigger_checks_the_attribute(tenant: Tenant):
    program = tenant.create(tenant.live())
    condition = dict(program["triggerCondition"], attributeName="score")
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"triggerCondition": condition})
    assert answer.status_code == 400 and answer.json()["message"].startswith("triggerCondition.attributeName:")
    condition = dict(program["triggerCondition"], direction="after")
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"triggerCondition": condition})
    assert answer.status_code == 200 and answer.json()["triggerCondition"]["direction"] == "after"
    answer = tenant.org.patch(f"/programs/{program['id']}", json={"triggerCondition": None})
    assert answer.json()["message"] == "triggerCondition: is required for live programs"


# ------------------------------------------------------------------- tenancy and ids


def test_another_organizations_program_is_not_found(tenant: Tenant, system: System):
    program = tenant.create(tenant.batch())
    stranger = system.create_org()
    path = f"/programs/{program['id']}"
    for answer in (stranger.get(path), stranger.patch(path, json={"name": "mine"}), stranger.delete(path)):
        assert (answer.status_code, answer.json()["error"]) == (404, "ProgramNotFoundError")
    assert stranger.get("/programs").json() == []
    assert tenant.org.get(path).json() == program


@pytest.mark.parametrize("program_id", ["not-a-uuid", str(uuid.uuid4())], ids=["malformed", "unknown"])
def test_unknown_or_malformed_id_is_not_found(tenant: Tenant, program_id: str):
    path = f"/programs/{program_id}"
    for answer in (tenant.org.get(path), tenant.org.patch(path, json={"name": "x"}), tenant.org.delete(path)):
        assert (answer.status_code, answer.json()["error"]) == (404, "ProgramNotFoundError")


def test_without_api_key_is_unauthorized(system: System):
    assert system.http.get("/programs").status_code == 401


# ------------------------------------------------------------------- list


def test_list_pages_newest_first_with_a_cursor(tenant: Tenant):
    made = [tenant.create(tenant.batch(name=f"P{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = tenant.org.get("/programs", params=params)
        assert answer.status_code == 200
        assert len(answer.json()) <= 2
        seen += [p["id"] for p in answer.json()]
        pages += 1
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert pages == 3
    assert seen == list(reversed(made))


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"cursor": "garbage"}])
def test_list_refuses_bad_paging(tenant: Tenant, params):
    answer = tenant.org.get("/programs", params=params)
    assert (answer.status_code, answer.json()["error"]) == (400, "ValidationError")


def test_list_default_limit_has_no_cursor_when_all_fit(tenant: Tenant):
    tenant.create(tenant.batch())
    answer = tenant.org.get("/programs")
    assert len(answer.json()) == 1 and "X-Next-Cursor" not in answer.headers


# ------------------------------------------------------------------- archive


def test_delete_archives(tenant: Tenant):
    program = tenant.create(tenant.batch())
    keep = tenant.create(tenant.batch(name="Keep"))
    path = f"/programs/{program['id']}"
    answer = tenant.org.delete(path)
    assert answer.status_code == 204 and answer.content == b""
    assert [p["id"] for p in tenant.org.get("/programs").json()] == [keep["id"]]
    archived = tenant.org.get(path).json()
    assert archived["status"] == "archived" and archived["name"] == program["name"]
    patch = tenant.org.patch(path, json={"name": "Back"})
    assert (patch.status_code, patch.json()["error"]) == (400, "BadRequestException")
    assert tenant.org.delete(path).status_code == 204, "a repeated DELETE is harmless"
    assert tenant.org.get(path).json()["status"] == "archived"


def test_openapi_documents_the_program_shapes(system: System):
    spec = system.http.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    created = spec["paths"]["/api/programs"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["$ref"].endswith("/ProgramResponse")
    fields = schemas["ProgramResponse"]["properties"]
    assert set(fields) == PROGRAM_KEYS
    assert "IANA" in fields["timezone"]["description"] and "1-1000" in fields["maxConcurrentCalls"]["description"]
    assert "204" in spec["paths"]["/api/programs/{program_id}"]["delete"]["responses"]
