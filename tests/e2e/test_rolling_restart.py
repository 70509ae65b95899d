"""A rolling restart in the middle of a campaign, as Kubernetes does it (maxSurge 1,
maxUnavailable 0): a new replica of execution, dialer and trigger starts, then an old one
gets SIGTERM with calls under way. Every stopped process drains and exits 0 within its
grace period, the batch campaign finishes with exact counters and the live campaign keeps
firing through the new replicas."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest

from kernel.timefmt import iso
from outbound_cli.supervisor import Proc
from tests.e2e.test_metrics import scrape, total
from tests.e2e.test_replicas import assert_campaign_consistent
from tests.support.campaigns import ANSWER, LONG_CALL, RETRY_THEN_ANSWER, SIM_RULES, Tenant, serial
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

pytestmark = pytest.mark.e2e

ROLLED = ("execution", "dialer", "trigger")
GRACE_SECONDS = 5.0
# The local terminationGracePeriodSeconds: drain + in-flight grace + the dialer's call grace + margin.
TERMINATION_GRACE_SECONDS = 20.0


@pytest.fixture(scope="module")
def rolling(system_factory) -> System:
    # A short execution lease: an attempt a stopped replica claimed but never published is
    # re-published by a surviving one within seconds, not minutes.
    return system_factory(clock_speed=120, sim_rules=SIM_RULES, replicas={name: 2 for name in ROLLED},
                          extra_env={"GRACE_SECONDS": str(GRACE_SECONDS), "LEASE_SECONDS": "10"})


def stop_in_grace(system: System, proc: Proc) -> tuple[int, float]:
    started = time.monotonic()
    code = system.group.stop(proc, timeout=TERMINATION_GRACE_SECONDS)  # SIGTERM; SIGKILL past the grace
    return code, time.monotonic() - started


def live_campaign(tenant: Tenant, system: System, count: int) -> tuple[str, str]:
    """A live program whose triggers come due one every virtual minute (half a real second) from now."""
    made = tenant.org.post("/custom-attributes", json={"name": "Renewal", "slug": "renewal", "type": "date"})
    assert made.status_code == 201, made.text
    now = system.now()
    contacts = [{"phone": f"+2126{ANSWER}{next(serial):07d}",
                 "attributes": {"renewal": iso(now + timedelta(hours=1, minutes=i))}} for i in range(count)]
    assert tenant.org.post("/contacts/bulk", json={"contacts": contacts}).status_code == 201
    program = tenant.org.post("/programs", json={
        "name": "Renewals", "mode": "live", "flowId": tenant.flow_id,
        "triggerCondition": {"type": "date", "attributeName": "renewal", "direction": "before",
                             "offset": {"days": 0, "hours": 1, "minutes": 0}},
        "startAt": iso(now - timedelta(minutes=1)), "didPool": [d.id for d in tenant.dids],
        "retryStrategy": {"type": "none"}})
    assert program.status_code == 201, program.text
    return program.json()["id"], tenant.launch(program.json()["id"])


def triggers(system: System, execution_id: str) -> dict[str, int]:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        return dict(conn.execute("""SELECT status, count(*) FROM trigger.triggers WHERE execution_id = %s
                                    GROUP BY status""", (execution_id,)).fetchall())


def fired_since(system: System, execution_id: str, since) -> int:
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        return conn.execute("""SELECT count(*) FROM trigger.triggers WHERE execution_id = %s
                               AND status = 'triggered' AND triggered_at > %s""", (execution_id, since)).fetchone()[0]


def test_rolling_restart_mid_campaign(rolling: System):
    tenant = Tenant(rolling)
    audience = tenant.audience(200, ANSWER)
    for kind, count in ((LONG_CALL, 400), (RETRY_THEN_ANSWER, 100)):
        added = tenant.org.post("/contacts/bulk", json={
            "contacts": [{"phone": f"+2126{kind}{next(serial):07d}"} for _ in range(count)], "audienceId": audience})
        assert added.status_code == 201, added.text
    # 400 calls of one real second, 20 at a time: the campaign lasts well past the restart.
    program = tenant.program(audience, maxConcurrentCalls=20,
                             retryStrategy={"type": "fixed_delay", "delayMinutes": 1, "maxRetries": 2})
    execution_id = tenant.launch(program["id"])
    _, live_id = live_campaign(tenant, rolling, 80)  # due over 40 real seconds, across the restart

    # Surge: the new replicas first, healthy before any old one stops.
    old = {name: rolling.group.find(name, 1) for name in ROLLED}
    for name in ROLLED:
        rolling.group.start(name, instance=2)
    rolling.group.wait_healthy(HANG_GUARD_SECONDS)
    # The old dialer is in the middle of calls, the old orchestrator has been claiming.
    wait_until(lambda: total(scrape(old["dialer"].metrics_port), "outbound_dial_requests_in_flight") > 0,
               message="calls under way on the dialer about to stop")
    assert total(scrape(old["dialer"].metrics_port), "outbound_calls_placed_total") > 0
    assert total(scrape(old["execution"].metrics_port), "outbound_orchestrator_claim_seconds_count") > 0
    assert tenant.execution(execution_id)["status"] == "running"

    with ThreadPoolExecutor(len(ROLLED)) as pool:
        stopped = dict(zip(ROLLED, pool.map(lambda name: stop_in_grace(rolling, old[name]), ROLLED), strict=True))
    # Exit code 0: the process ended by itself, inside its termination grace (past it the
    # supervisor, as Kubernetes, kills it: -9).
    for name, (code, seconds) in stopped.items():
        assert code == 0, (name, code, seconds, rolling.logs())
    assert tenant.execution(execution_id)["status"] == "running", "the restart happened mid-campaign"
    restarted_at = rolling.now()

    # The batch campaign finishes on the remaining and new replicas, with exact counters.
    done = tenant.wait_status(execution_id, "completed")
    assert (done["totalContacts"], done["contactsCompleted"], done["contactsFailed"]) == (700, 700, 0)
    checked = assert_campaign_consistent(rolling.database_url, execution_id, max_attempts=3)
    assert checked["calls"] >= 200 + 400 + 100 * 3

    # The live campaign kept firing after the restart, including a contact added afterwards.
    late = tenant.org.post("/contacts", json={"phone": f"+2126{ANSWER}{next(serial):07d}",
                                              "attributes": {"renewal": iso(rolling.now() + timedelta(hours=1))}})
    assert late.status_code == 201, late.text
    wait_until(lambda: triggers(rolling, live_id) == {"triggered": 81}, message="every live trigger fired")
    assert fired_since(rolling, live_id, restarted_at) >= 1
    live = wait_until(lambda: (e := tenant.execution(live_id))["contactsCompleted"] == 81 and e,
                      message="every fired contact called once")
    assert live["totalContacts"] == 81 and live["status"] == "running"
    assert len(tenant.calls(live_id)) == 81
    assert tenant.org.delete(f"/program-executions/{live_id}").status_code == 204
