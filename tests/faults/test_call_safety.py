"""No call starts once the API has said it will not (issue 13): after the answer to a pause or a
cancel, inside a pause window, past stopAt, not even from dial requests that were already on
their way, stuck in a stalled dialer (SIGSTOP longer than the request TTL), held by a stalled
NATS, or waiting for a DID slot. "No call" is read from the call records: none has a started_at
later than the moment the API answered (or the window start, or stopAt) beyond
TOLERANCE_REAL real seconds. A request that is not placed gives its attempt back, so no
contact loses an attempt to it; counters add up at every read; a paused campaign completes
once resumed. Races and the execution / call leases: test_call_safety_races.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from kernel.timefmt import iso
from tests.faults.campaigns import (
    Campaign,
    Mix,
    batch_campaign,
    execution_row,
    fault_rules,
    fault_system,
    wait_status,
)
from tests.faults.safety import (
    CounterWatch,
    assert_requests_queued,
    cancel,
    check_no_attempt_lost,
    check_safe_end,
    drained,
    held,
    pause,
    placing,
    queued_requests,
    resume_to_completion,
    stalled,
    under_way,
)
from tests.support.campaigns import Tenant
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

# The per-test timeout only stops a hang: above the longest wait's guard, not sized for speed.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2 * HANG_GUARD_SECONDS)]

TTL = 2  # DIAL_REQUEST_TTL_SECONDS, real
STALL = TTL + 1.5  # a stall longer than the TTL
# 5 calls at once per DID, 3 DIDs a tenant: with 20 calls allowed, 5 requests always wait for a slot.
ENV = {"DIAL_REQUEST_TTL_SECONDS": str(TTL), "DIALER_CALL_LEASE_SECONDS": "30", "LEASE_SECONDS": "60",
       "DID_MAX_CONCURRENT_CALLS": "5"}
MAX_CONCURRENT = 20
MIX = Mix(answer=60, retry=12, never=8)


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    # Answered calls last a minute of virtual time: half a real second at the fault clock.
    return fault_system(system_factory, sim_rules=fault_rules(6, 54), extra_env=ENV)


def virtual(system: System, real_seconds: float) -> timedelta:
    return timedelta(seconds=real_seconds * system.clock.speed)


def test_pause_while_the_dialer_is_stalled_past_the_ttl(system: System):
    campaign = batch_campaign(Tenant(system), MIX, MAX_CONCURRENT)
    with CounterWatch(campaign):
        under_way(campaign)
        with stalled(system, "dialer", STALL):
            assert_requests_queued(campaign)
            ack = pause(campaign)
        drained(campaign, "paused")
        check_no_attempt_lost(system, campaign.execution_id)  # requests not placed gave their attempt back
        resumed = resume_to_completion(campaign)
    check_safe_end(campaign, status="completed", exact=True, after=ack, until=resumed, what="the pause")


def test_cancel_while_the_dialer_is_stalled_past_the_ttl(system: System):
    campaign = batch_campaign(Tenant(system), MIX, MAX_CONCURRENT)
    with CounterWatch(campaign):
        under_way(campaign)
        with stalled(system, "dialer", STALL):
            assert_requests_queued(campaign)
            ack = cancel(campaign)
            during = campaign.tenant.execution(campaign.execution_id)
        drained(campaign, "cancelled")
        wait_until(lambda: execution_row(system, campaign.execution_id)["actual_end_at"],
                   message="actualEndAt once the calls drained")
    # While the calls under way were frozen in the dialer, the execution had not ended yet.
    assert during["status"] == "cancelled"
    assert during["contactsInProgress"] == 0 or during["actualEndAt"] is None, during
    check_safe_end(campaign, status="cancelled", exact=False, after=ack, what="the cancel")


def under_way_before(system: System, make: Callable[[datetime], Campaign],
                     lead: float = 3.0) -> tuple[Campaign, datetime, float]:
    """A campaign made by make(moment), `moment` `lead` real seconds ahead, under way before it;
    answers it, the moment and the real seconds still left, for a fault to start before the moment.
    When a busy machine's set-up outlasts the lead, that campaign is cancelled and made again with
    twice the lead: the fault never depends on how fast the set-up ran."""
    while True:
        moment = system.now() + virtual(system, lead)
        campaign = make(moment)
        under_way(campaign)
        ahead = (moment - system.now()).total_seconds() / system.clock.speed
        if ahead > 0.3:
            return campaign, moment, ahead
        campaign.tenant.org.delete(f"/program-executions/{campaign.execution_id}")  # whatever its state now
        lead *= 2
        assert lead < HANG_GUARD_SECONDS, "the set-up never fits before the moment"


def test_dialer_stalled_across_the_start_of_a_pause_window(system: System):
    def make(start: datetime) -> Campaign:
        window = {"startAt": iso(start), "endAt": iso(start + virtual(system, 5.0))}
        return batch_campaign(Tenant(system), MIX, MAX_CONCURRENT, pauseWindows={"advanced": [window]})

    campaign, start, ahead = under_way_before(system, make)
    end = start + virtual(system, 5.0)
    with CounterWatch(campaign):
        with stalled(system, "dialer", ahead + STALL):
            assert_requests_queued(campaign)
        wait_status(campaign, "completed")
    # The requests' deadline is the window start itself: no tolerance.
    check_safe_end(campaign, status="completed", exact=True, after=start, until=end, tolerance=False,
                   what="the window start")


def test_dialer_stalled_across_stop_at(system: System):
    campaign, stop_at, ahead = under_way_before(
        system, lambda stop_at: batch_campaign(Tenant(system), MIX, MAX_CONCURRENT, stopAt=iso(stop_at)))
    with CounterWatch(campaign):
        with stalled(system, "dialer", ahead + STALL):
            assert_requests_queued(campaign)
        drained(campaign, "stopped")
    check_safe_end(campaign, status="stopped", exact=False, after=stop_at, what="stopAt")


def test_cancel_while_nats_is_stalled(system: System):
    """The cancel needs PostgreSQL and Redis only; requests NATS still holds, or that the dialer
    fetched before it stalled, are refused when they come."""
    campaign = batch_campaign(Tenant(system), MIX, MAX_CONCURRENT)
    with CounterWatch(campaign):
        under_way(campaign)
        # NATS stays stopped until the cancel has answered: an answer at all shows it did not wait for NATS.
        with held(system, "nats", STALL + 1):
            assert_requests_queued(campaign)
            ack = cancel(campaign)
        drained(campaign, "cancelled")
    check_safe_end(campaign, status="cancelled", exact=False, after=ack, what="the cancel")


def test_pause_with_the_did_slots_full(system: System):
    """One DID, five calls at once on it, fifty allowed by the program: the pause comes while
    every slot is taken and the other requests wait for one; none of those starts after it."""
    tenant = Tenant(system)
    campaign = batch_campaign(tenant, Mix(answer=30, retry=0, never=0), 50, didPool=[tenant.dids[0].id])
    with CounterWatch(campaign):
        wait_until(lambda: placing(system, campaign.execution_id) == 5
                   and queued_requests(system, campaign.execution_id) >= 10, interval=0.05,
                   message="every slot taken and requests waiting")
        ack = pause(campaign)
        drained(campaign, "paused")
        resumed = resume_to_completion(campaign)
    check_safe_end(campaign, status="completed", exact=True, after=ack, until=resumed, what="the pause")
