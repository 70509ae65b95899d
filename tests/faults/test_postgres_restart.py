"""PostgreSQL restarts in the middle of a campaign with retries (a server of this system's
own: the session's server is shared by every other test). Every service rides it out;
the campaign ends with every invariant held."""

from __future__ import annotations

import random
import signal

import pytest

from tests.faults.campaigns import (
    assert_under_way,
    at_random_moment,
    batch_campaign,
    check_campaign,
    fault_system,
    wait_status,
)
from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    # A call lease longer than the restart, so calls under way normally outlive it.
    return fault_system(system_factory, own_postgres=True, extra_env={"DIALER_CALL_LEASE_SECONDS": "10"})


# SIGINT: fast shutdown (clients are disconnected); SIGQUIT: immediate shutdown, crash
# recovery from the WAL on the next start.
@pytest.mark.parametrize("seed,how", [(11, signal.SIGINT), (22, signal.SIGQUIT)])
def test_postgres_restarted_mid_campaign(system: System, seed: int, how: int):
    rng = random.Random(seed)
    campaign = batch_campaign(Tenant(system))
    at_random_moment(rng, 0.2, 2.0)
    assert_under_way(campaign)
    system.postgres.stop(how)
    system.postgres.start()
    wait_status(campaign, "completed")
    # A write whose commit the restart cut off is retried, or its call is declared lost and
    # counted as a failed attempt (retried while attempts remain): never placed twice.
    states = check_campaign(campaign, status="completed", exact=False)["states"]
    assert states.get("completed", 0) + states.get("failed", 0) == campaign.mix.total
