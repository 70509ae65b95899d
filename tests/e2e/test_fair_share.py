"""Fair dispatch between organizations end to end: a small campaign never waits behind a big one.

One dialer with a few channels; organization A's big campaign holds every one of them with long
calls of varied length (they end one by one, as real calls do). A second organization's small
run gets the next channels that free up and then half of them (or its weight's part) while both
want more; an organization's own limits (concurrent calls, calls per second) hold on top, and
channels an organization cannot use now (its contacts wait for their retries) go to the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

import pytest

from kernel.timefmt import parse_iso
from tests.support.campaigns import ACTIVE, ANSWER, Tenant
from tests.support.system import System, wait_until

pytestmark = pytest.mark.e2e

CHANNELS = 12  # a multiple of 4: the weighted split 1:3 is whole
SPEED = 120
# Phone kinds (tests.support.campaigns numbers are +2126<kind><7 digits>): the last digit sets
# the talk time, so the calls of one campaign end one by one rather than all at once.
CROWD = "4"  # A: 60-240 virtual seconds (0.5-2 real seconds)
CROWD_TALK = [60 + 20 * d for d in range(10)]
SMALL = "5"  # B: 480-660 virtual seconds, longer than A's, so its run outlasts its ramp-up
SMALL_TALK = [480 + 20 * d for d in range(10)]
WAITING = "6"  # busy at once: the contact waits for its retry
SIM = {
    "default": {"outcomes": ["answered"], "ringSeconds": 0, "talkSeconds": 5, "digits": []},
    "rules": [
        {"match": rf"^\+2126{WAITING}", "outcomes": ["busy"]},
        *({"match": rf"^\+2126{CROWD}\d{{6}}{d}$", "talkSeconds": talk} for d, talk in enumerate(CROWD_TALK)),
        *({"match": rf"^\+2126{SMALL}\d{{6}}{d}$", "talkSeconds": talk} for d, talk in enumerate(SMALL_TALK)),
    ],
}
SAMPLE_SECONDS = 0.1
# Every call A held at B's launch has ended by then: every channel has been dealt again since.
TURNOVER = max(CROWD_TALK) / SPEED


@pytest.fixture(scope="module")
def system(system_factory: Callable[..., System]) -> System:
    return system_factory(clock_speed=SPEED, sim_rules=SIM,
                          extra_env={"DIALER_MAX_CHANNELS": str(CHANNELS), "RATE_LIMIT_PER_SECOND": "0"})


def org_limits(system: System, organization_id: str, *options: str) -> dict[str, Any]:
    """`outbound admin org limits`, as an operator runs it."""
    done = subprocess.run([sys.executable, "-m", "outbound_cli.main", "admin", "org", "limits",
                           "--org", organization_id, *options],
                          env={**os.environ, **system.env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


@dataclass(frozen=True)
class Run:
    tenant: Tenant
    execution_id: str

    def read(self) -> dict[str, Any]:
        return self.tenant.execution(self.execution_id)

    def in_progress(self) -> int:
        return int(self.read()["contactsInProgress"])

    def cancel_and_drain(self) -> None:
        """Cancelled if still active, then every call of it ended."""
        if self.read()["status"] in ACTIVE:
            answer = self.tenant.org.delete(f"/program-executions/{self.execution_id}")
            assert answer.status_code == 204, answer.text
        wait_until(lambda: self.in_progress() == 0, message="the cancelled run's calls to end")


def launch(tenant: Tenant, contacts: int, kind: str, max_concurrent: int = 100) -> Run:
    program = tenant.program(tenant.audience(contacts, kind), maxConcurrentCalls=max_concurrent)
    return Run(tenant, tenant.launch(program["id"]))


@dataclass(frozen=True)
class Sample:
    at: float  # real seconds since the small run's launch answer
    crowd: int  # A's calls in progress
    small: int  # B's calls in progress
    crowd_pending: int
    small_pending: int

    @property
    def share(self) -> float | None:
        held = self.crowd + self.small
        return self.small / held if held else None


@dataclass(frozen=True)
class Contest:
    samples: list[Sample]
    first_claim: float  # real seconds from the launch answer to B's first contact in progress
    first_call: float   # real seconds from the launch answer to the start of B's first call

    def shares(self, since: float = 0.0) -> list[float]:
        return [s.share for s in self.samples if s.at >= since and s.share is not None]

    def report(self) -> str:
        rows = "\n".join(f"{s.at:6.2f}s  A {s.crowd:2d} ({s.crowd_pending})  B {s.small:2d} ({s.small_pending})"
                         for s in self.samples)
        turned = self.shares(since=TURNOVER)
        return (f"first claim {self.first_claim:.2f}s, first call {self.first_call:.2f}s, "
                f"mean share {mean(self.shares()):.3f} over {len(self.shares())} samples, "
                f"{mean(turned) if turned else float('nan'):.3f} over {len(turned)} after {TURNOVER:.1f}s\n{rows}")


def now(system: System) -> datetime:
    """The campaign clock every process shares."""
    return system.clock.now()


def contest(system: System, crowd: Run, small: Tenant, contacts: int) -> Contest:
    """B launches while A holds every channel; samples both until B has nothing pending, then
    waits for B to finish and times its first call from the call records."""
    wait_until(lambda: crowd.in_progress() == CHANNELS, message="A holding every channel")
    program = small.program(small.audience(contacts, SMALL), maxConcurrentCalls=100)
    answer = small.org.post(f"/programs/{program['id']}/launch")
    answered, launched_at = time.monotonic(), now(system)
    assert answer.status_code == 201, answer.text
    run = Run(small, answer.json()["executionId"])
    samples: list[Sample] = []
    first_claim: float | None = None
    while True:
        a, b = crowd.read(), run.read()
        at = time.monotonic() - answered
        if first_claim is None and b["contactsInProgress"] + b["contactsCompleted"] + b["contactsFailed"] > 0:
            first_claim = at
        if b["contactsPending"] == 0:
            break
        if a["contactsPending"] > 0:
            samples.append(Sample(at, a["contactsInProgress"], b["contactsInProgress"], a["contactsPending"],
                                  b["contactsPending"]))
        time.sleep(SAMPLE_SECONDS)
    assert first_claim is not None
    small.wait_status(run.execution_id, "completed")
    first_started = min(parse_iso(c["startedAt"]) for c in small.calls(run.execution_id))
    first_call = (first_started - launched_at).total_seconds() / SPEED
    return Contest(samples, first_claim, first_call)


@pytest.fixture(scope="class")
def crowd(system: System) -> Iterator[Run]:
    """A's campaign, far bigger than the channels, holding every one of them."""
    run = launch(Tenant(system), 5000, CROWD)
    wait_until(lambda: run.in_progress() == CHANNELS, message="A holding every channel")
    yield run
    run.cancel_and_drain()


class TestWhileOneOrganizationHoldsEveryChannel:
    def test_a_small_run_gets_its_first_call_at_once_and_half_the_channels(self, system: System, crowd: Run) -> None:
        seen = contest(system, crowd, Tenant(system), 20)
        print(seen.report())
        # As the issue states it: B's first call starts within 2 real seconds of its launch, and
        # its share of the channels while both want them is within 10 % of half.
        assert seen.first_call <= 2.0, seen.report()
        assert 0.45 <= mean(seen.shares()) <= 0.55, seen.report()
        # Once every channel has been dealt again, the split is half and half.
        assert 0.45 <= mean(seen.shares(since=TURNOVER)) <= 0.55, seen.report()

    def test_a_heavier_organization_gets_its_weights_part(self, system: System, crowd: Run) -> None:
        small = Tenant(system)
        assert org_limits(system, small.org.id, "--weight", "3")["weight"] == 3
        seen = contest(system, crowd, small, 20)
        print(seen.report())
        # 3 / (3 + 1) of the channels (9 of 12), within 10 %, once every channel has been dealt
        # again: B's ramp-up to 9 is longer than to 6 and would weigh on a run of 20 contacts.
        assert 0.675 <= mean(seen.shares(since=TURNOVER)) <= 0.825, seen.report()


def test_an_organization_never_exceeds_its_concurrent_calls(system: System) -> None:
    tenant = Tenant(system)
    assert org_limits(system, tenant.org.id, "--concurrent", "4")["maxConcurrentCalls"] == 4
    runs = [launch(tenant, 10, CROWD) for _ in range(2)]  # two executions: the limit is the organization's
    held: list[int] = []
    while True:
        # One read of every active execution of the organization: one snapshot, not two moments.
        listed = tenant.org.get("/program-executions")
        assert listed.status_code == 200, listed.text
        active = listed.json()
        if not any(e["contactsPending"] for e in active):
            break
        held.append(sum(e["contactsInProgress"] for e in active))
        time.sleep(SAMPLE_SECONDS)
    for run in runs:
        tenant.wait_status(run.execution_id, "completed")
    print(held)
    # Each program allows 100 and the dialer has 12 channels free: the organization's 4 binds.
    assert max(held) == 4, held


def test_an_organization_starts_no_more_calls_per_second_than_its_limit(system: System) -> None:
    limit = 2
    tenant = Tenant(system)
    assert org_limits(system, tenant.org.id, "--cps", str(limit))["maxCallsPerSecond"] == limit
    program = tenant.program(tenant.audience(30, ANSWER), maxConcurrentCalls=100)
    before = time.monotonic()  # nothing of this organization has started yet
    run = Run(tenant, tenant.launch(program["id"]))
    samples: list[tuple[float, int]] = []
    while True:
        execution = run.read()
        elapsed = time.monotonic() - before
        started = execution["totalContacts"] - execution["contactsPending"] - execution["contactsSkipped"]
        samples.append((elapsed, started))
        if elapsed > 6 or execution["contactsPending"] == 0:
            break
        time.sleep(SAMPLE_SECONDS)
    run.cancel_and_drain()
    print([(round(elapsed, 2), started) for elapsed, started in samples])
    # The bucket holds one second's worth (the burst) and refills at the limit.
    assert all(started <= limit * elapsed + limit for elapsed, started in samples), samples
    assert samples[-1][1] >= limit, samples


def test_channels_an_organization_cannot_use_now_go_to_the_others(system: System) -> None:
    """An organization whose pending contacts all wait for their retry holds no call and can start
    none now: the channels go to the organization that can call."""
    waiting = Tenant(system)
    delay = timedelta(minutes=20)
    program = waiting.program(waiting.audience(30, WAITING), maxConcurrentCalls=100, retryStrategy={
        "type": "fixed_delay", "delayMinutes": int(delay.total_seconds() // 60), "maxRetries": 1})
    parked = Run(waiting, waiting.launch(program["id"]))
    wait_until(lambda: len(waiting.calls(parked.execution_id)) == 30, message="every first attempt")
    first_due = min(parse_iso(c["endedAt"]) for c in waiting.calls(parked.execution_id)) + delay
    caller = Tenant(system)
    run = launch(caller, 24, SMALL)
    held: list[int] = []

    def every_channel() -> bool:
        held.append(run.in_progress())
        return held[-1] == CHANNELS

    try:
        # Until the first retry is due only the caller can start a call: it gets every channel.
        wait_until(every_channel, timeout=(first_due - now(system)).total_seconds() / SPEED,
                   message=f"the caller holding all {CHANNELS} channels")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it held {held} while the other one was {parked.read()}") from None
    finally:
        run.cancel_and_drain()
        parked.cancel_and_drain()
