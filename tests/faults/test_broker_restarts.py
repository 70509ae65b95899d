"""NATS and Redis go away in the middle of a campaign with retries and come back: the
campaign ends exactly as it would have without the fault, and auto-pause counts survive."""

from __future__ import annotations

import random
import signal
import time

import pytest
import redis

from tests.faults.campaigns import (
    Mix,
    assert_under_way,
    at_random_moment,
    batch_campaign,
    check_campaign,
    db,
    execution_row,
    fault_system,
    wait_status,
)
from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    return fault_system(system_factory)


@pytest.mark.parametrize("seed,how", [(11, signal.SIGTERM), (22, signal.SIGKILL)])
def test_nats_restarted_mid_campaign(system: System, seed: int, how: int):
    """The server restarts on its port with its JetStream store: streams, consumers and
    their positions survive; what was in flight is redelivered or re-derived from the rows."""
    rng = random.Random(seed)
    campaign = batch_campaign(Tenant(system))
    # Within the first second: the retried contacts need three attempts half a second apart, so
    # the campaign is still under way then, however fast the machine.
    at_random_moment(rng, 0.2, 1.0)
    assert_under_way(campaign)
    if how == signal.SIGKILL:
        system.nats.kill()
    else:
        system.nats.stop()
    system.nats.start()
    wait_status(campaign, "completed")
    check_campaign(campaign, status="completed", exact=True)


def test_nats_outage_of_a_few_seconds(system: System):
    rng = random.Random(44)
    campaign = batch_campaign(Tenant(system))
    at_random_moment(rng, 0.2, 1.5)
    assert_under_way(campaign)
    system.nats.stop()
    time.sleep(4)  # publishes fail, fetches fail, acks are lost meanwhile
    row = execution_row(system, campaign.execution_id)
    assert row["status"] == "running", "nothing can finish the campaign while NATS is away"
    system.nats.start()
    wait_status(campaign, "completed")
    check_campaign(campaign, status="completed", exact=True)


def test_redis_killed_mid_campaign(system: System):
    """Redis holds nothing a campaign without auto-pause rules needs to keep (DID slots, rotation
    turns, rate-limit buckets): killed and restarted, whatever it lost, the campaign ends exactly."""
    rng = random.Random(11)
    campaign = batch_campaign(Tenant(system))
    at_random_moment(rng, 0.2, 2.0)
    assert_under_way(campaign)
    system.redis.kill()
    time.sleep(rng.uniform(0.5, 2.0))
    system.redis.start()
    wait_status(campaign, "completed")
    check_campaign(campaign, status="completed", exact=True)
    assert campaign.tenant.org.get(f"/program-executions/{campaign.execution_id}").status_code == 200


def answered_through(system: System, execution_id: str, node: str) -> int:
    with db(system) as conn:
        return conn.execute("""
            SELECT count(*) FROM dialer.call_records
            WHERE execution_id = %s AND state = 'finished' AND node_ids ? %s""", (execution_id, node)).fetchone()[0]


def test_redis_restarted_while_auto_pause_counts(system: System):
    """Auto-pause counts live in Redis: restarted with its data in the middle of the counting,
    the count still equals the calls that ran the node (rebuilt from the call records), the
    pause comes at the threshold, and the counters are gone once the execution ends."""
    rng = random.Random(22)
    mix = Mix(answer=20, retry=4, never=2)
    threshold, max_concurrent = 14, 4
    campaign = batch_campaign(Tenant(system), mix, max_concurrent,
                              autoPauseRules=[{"nodeId": "welcome", "threshold": threshold}])
    at_random_moment(rng, 0.2, 0.6)
    assert_under_way(campaign)
    system.redis.stop()
    time.sleep(rng.uniform(0.5, 1.5))
    system.redis.start()
    wait_status(campaign, "paused_threshold")
    # Calls already queued finish and count; then nothing is in flight and nothing starts.
    paused = wait_until(lambda: (row := execution_row(system, campaign.execution_id))
                        and row["contacts_in_progress"] == 0 and row, message="queued calls finished")
    rds = redis.Redis.from_url(system.redis_url)
    key = f"execution:{{{campaign.execution_id}}}:node_counts"
    counted = int(rds.hget(key, "welcome") or 0)
    assert counted == answered_through(system, campaign.execution_id, "welcome") == paused["contacts_completed"]
    # Only calls already under way when the threshold was reached may add to it.
    assert threshold <= counted < threshold + max_concurrent
    time.sleep(1.0)
    assert execution_row(system, campaign.execution_id)["contacts_in_progress"] == 0, "a call started after the pause"
    resumed = campaign.tenant.org.patch(f"/program-executions/{campaign.execution_id}/resume",
                                        json={"autoPauseRules": []})
    assert resumed.status_code == 200, resumed.text
    wait_status(campaign, "completed")
    check_campaign(campaign, status="completed", exact=True)
    wait_until(lambda: not rds.exists(key), message="counters deleted when the execution ended")
    rds.close()
