"""Auto-pause rules end to end: REST, real dialer with the simulated carrier, Redis read directly."""

from __future__ import annotations

import time

import pytest
import redis

from kernel.timefmt import parse_iso
from tests.support.campaigns import Tenant, started
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e

# Every call is answered after 1 s of ringing and talks 5 s: it runs welcome → menu → bye.
SIM_RULES = {"default": {"outcomes": ["answered"], "ringSeconds": 1, "talkSeconds": 5, "digits": []}, "rules": []}


@pytest.fixture(scope="module")
def fast(system_factory) -> System:
    return system_factory(clock_speed=300, sim_rules=SIM_RULES)


@pytest.fixture(scope="module")
def tenant(fast: System) -> Tenant:
    return Tenant(fast)


@pytest.fixture(scope="module")
def rds(fast: System):
    client = redis.Redis.from_url(fast.redis_url, decode_responses=True)
    yield client
    client.close()


def counter_keys(execution_id: str) -> list[str]:
    return [f"execution:{{{execution_id}}}:node_counts", f"execution:{{{execution_id}}}:counting"]


def resume(tenant: Tenant, execution_id: str, body=None) -> dict:
    answer = tenant.org.patch(f"/program-executions/{execution_id}/resume", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_paused_and_drained(tenant: Tenant, execution_id: str) -> dict:
    return wait_until(lambda: (e := tenant.execution(execution_id))["status"] == "paused_threshold"
                      and e["contactsInProgress"] == 0 and e, message="paused_threshold with no call in flight")


def test_threshold_pauses_resume_resets_or_replaces_rules_and_cancel_deletes_counters(tenant: Tenant, rds):
    audience = tenant.audience(14)
    rules = [{"nodeId": "welcome", "threshold": 5, "resetOnResume": True}]
    program = tenant.program(audience, maxConcurrentCalls=1, autoPauseRules=rules)
    execution_id = tenant.launch(program["id"])
    assert tenant.execution(execution_id)["autoPauseRules"] == rules

    paused = wait_paused_and_drained(tenant, execution_id)
    assert paused["autoPauseCounters"] == [{"nodeId": "welcome", "count": 5, "threshold": 5}]
    assert int(rds.hget(counter_keys(execution_id)[0], "welcome")) == 5
    # No call started after the pause was decided: every call began before the execution's
    # last update (the pause), and none comes later.
    calls = tenant.calls(execution_id)
    assert len(calls) == 5 and all(c["nodeIds"][0] == "welcome" for c in calls)
    paused_at = parse_iso(paused["updatedAt"])
    assert all(started(c) <= paused_at for c in calls)
    time.sleep(1.5)  # over seven virtual minutes
    assert len(tenant.calls(execution_id)) == 5
    assert tenant.execution(execution_id)["status"] == "paused_threshold"

    # Resume with resetOnResume: counting restarts from zero, so exactly five more calls.
    assert resume(tenant, execution_id)["status"] == "running"
    paused = wait_paused_and_drained(tenant, execution_id)
    assert paused["autoPauseCounters"] == [{"nodeId": "welcome", "count": 5, "threshold": 5}]
    assert len(tenant.calls(execution_id)) == 10

    # Resume with a new list: it replaces the rules. menu already ran ten times, over the new
    # threshold: the resume itself does not pause, the next call that runs menu does.
    new_rules = [{"nodeId": "menu", "threshold": 3, "resetOnResume": False}]
    resumed = resume(tenant, execution_id, {"autoPauseRules": new_rules})
    assert resumed["status"] == "running" and resumed["autoPauseRules"] == new_rules
    paused = wait_paused_and_drained(tenant, execution_id)
    assert paused["autoPauseRules"] == new_rules
    assert paused["autoPauseCounters"] == [{"nodeId": "menu", "count": 11, "threshold": 3}]
    assert len(tenant.calls(execution_id)) == 11

    unknown = tenant.org.patch(f"/program-executions/{execution_id}/resume",
                               json={"autoPauseRules": [{"nodeId": "nowhere", "threshold": 1}]})
    assert (unknown.status_code, unknown.json()["error"]) == (400, "ValidationError")

    # Cancel: the counters leave Redis.
    assert any(rds.exists(k) for k in counter_keys(execution_id))
    assert tenant.org.delete(f"/program-executions/{execution_id}").status_code == 204
    wait_until(lambda: not any(rds.exists(k) for k in counter_keys(execution_id)),
               message="counters deleted after cancel")
    ended = tenant.execution(execution_id)
    assert ended["status"] == "cancelled" and ended["autoPauseCounters"] is None


def test_counters_of_an_execution_without_rules(tenant: Tenant, rds):
    program = tenant.program(tenant.audience(2))
    execution_id = tenant.launch(program["id"])
    running = tenant.execution(execution_id)
    assert running["autoPauseRules"] is None
    assert running["autoPauseCounters"] in ([], None)  # [] while active, null once ended
    tenant.wait_status(execution_id, "completed")
    assert not any(rds.exists(k) for k in counter_keys(execution_id))
    listed = tenant.org.get("/program-executions").json()
    assert all("autoPauseCounters" not in e for e in listed)
