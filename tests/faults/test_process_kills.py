"""kill -9 of the execution service, the dialer and the trigger service at random moments of a
campaign with retries, then a restart on the same port: nothing is lost, nothing is done twice."""

from __future__ import annotations

import random
import time

import pytest

from tests.faults.campaigns import (
    assert_under_way,
    at_random_moment,
    batch_campaign,
    check_campaign,
    db,
    fault_system,
    live_campaign,
    wait_live_done,
    wait_status,
)
from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]

SEEDS = [11, 22, 33]


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return fault_system(system_factory)


def through_gateway(campaign, name: str) -> str:
    """A read that the gateway must send to the service `name`."""
    return {"execution": f"/program-executions/{campaign.execution_id}", "dialer": "/flows",
            "trigger": f"/programs/{campaign.program_id}/triggers"}[name]


def kill_and_restart(system: System, campaign, name: str, rng: random.Random) -> None:
    assert_under_way(campaign)
    port = system.kill(name)
    time.sleep(rng.uniform(0.0, 1.0))  # down for a moment: work keeps arriving meanwhile
    probe = through_gateway(campaign, name)
    assert campaign.tenant.org.get(probe).status_code == 503, "the gateway says the service is away"
    system.restart(name, port=port)
    # Its callers reconnect, not after a back-off grown while it was away: kernel.rpc caps the
    # back-off at a second, gRPC's own would grow towards two minutes. 30 s is far above the cap
    # plus a busy machine's delay (the service is already healthy), and still short of grown back-off.
    wait_until(lambda: campaign.tenant.org.get(probe).status_code == 200, 30, interval=0.1,
               message=f"the gateway reaching the restarted {name}")


@pytest.mark.parametrize("seed", SEEDS)
def test_execution_service_killed(system: System, seed: int):
    rng = random.Random(seed)
    campaign = batch_campaign(Tenant(system))
    at_random_moment(rng, 0.1, 2.0)
    kill_and_restart(system, campaign, "execution", rng)
    wait_status(campaign, "completed")
    # The dialer lost no call: every contact ends as its carrier rules say.
    check_campaign(campaign, status="completed", exact=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_dialer_killed(system: System, seed: int):
    rng = random.Random(seed)
    campaign = batch_campaign(Tenant(system))
    at_random_moment(rng, 0.1, 2.0)
    kill_and_restart(system, campaign, "dialer", rng)
    wait_status(campaign, "completed")
    # Calls cut by the kill end as failed attempts (retried while attempts remain), so the
    # split between completed and failed depends on the moment; the invariants do not.
    result = check_campaign(campaign, status="completed", exact=False)
    states = result["states"]
    assert states.get("completed", 0) + states.get("failed", 0) == campaign.mix.total


@pytest.mark.parametrize("seed", SEEDS)
def test_trigger_service_killed(system: System, seed: int):
    rng = random.Random(seed)
    campaign = live_campaign(Tenant(system))
    at_random_moment(rng, 0.3, 2.0)
    kill_and_restart(system, campaign, "trigger", rng)
    wait_live_done(campaign)
    with db(system) as conn:
        fired = conn.execute("""
            SELECT id::text FROM trigger.triggers WHERE execution_id = %s AND status = 'triggered'""",
            (campaign.execution_id,)).fetchall()
        refs = conn.execute("SELECT contact_ref FROM execution.execution_contacts WHERE execution_id = %s",
                            (campaign.execution_id,)).fetchall()
    assert len(fired) == campaign.mix.total, "every trigger fired once"
    assert sorted(r[0] for r in refs) == sorted(f[0] for f in fired), "each fired trigger is one contact of the run"
    audience = campaign.tenant.org.get(f"/audiences/{campaign.audience_id}")
    assert audience.status_code == 200 and audience.json()["contactCount"] == campaign.mix.total
    check_campaign(campaign, status="running", exact=True)
    assert campaign.tenant.org.delete(f"/program-executions/{campaign.execution_id}").status_code == 204
    check_campaign(campaign, status="cancelled", exact=True)
