"""Admission of a dispatch pass against a real PostgreSQL (the execution schema) and a real Redis:
the capacity is the channels the dialers announce minus every call in flight; an organization at
its concurrency limit gets nothing and the rest goes to the others; calls-per-second tokens not
used go back to their buckets; two passes in concurrent transactions take turns, the second
reading the calls in flight the first one's claims left.

Calls in flight are the executions' `contacts_in_progress`, written here as the claims write
them; the organizations' limits come from a table standing in for the account service."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kernel import db
from outbound_cli.devservers import free_port
from services.dialer.adapters.capacity_beacon import CapacityBeacon
from services.execution.adapters.dial_capacity import DialCapacity
from services.execution.adapters.org_call_rate import OrgCallRate
from services.execution.adapters.org_limits import OrgLimits
from services.execution.domain.fair_share import Claimant
from services.execution.domain.organization_limits import OrganizationLimits
from services.execution.fair_admission import Admitted, FairAdmission
from tests.support.infra import Infra
from tests.support.system import HANG_GUARD_SECONDS

BIG = 500  # a dispatch budget (the queue's own limit) above any capacity here
SLEW = 0.001  # Redis reads the wall clock, the test the monotonic one
LOTS = 1_000_000  # more than any bucket holds: a take of this many drains it


@pytest.fixture(scope="module")
async def engine(infra: Infra) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(infra.new_database(), "execution", pool_size=3)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def redis_url(infra: Infra) -> str:
    # A server of its own: the dialers' channels are global keys, another test's must not count.
    url, _ = infra.new_redis(own=True)
    return str(url)


@pytest.fixture
async def redis(redis_url: str, engine: AsyncEngine) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM executions"))
    yield client
    await client.aclose()


class AccountLimits:
    """ListDispatchLimits of the account service as a table: unknown organizations absent."""

    def __init__(self, limits: Mapping[str, OrganizationLimits] | None = None):
        self.limits = dict(limits or {})

    async def __call__(self, organization_ids: list[str]) -> dict[str, OrganizationLimits]:
        return {o: self.limits[o] for o in organization_ids if o in self.limits}


def admission(redis: Redis, limits: Mapping[str, OrganizationLimits] | None = None) -> FairAdmission:
    return FairAdmission(DialCapacity(redis), OrgCallRate(redis), OrgLimits(AccountLimits(limits)))


async def announce(redis: Redis, *channels: int) -> None:
    """One dialer replica per entry, each announcing its channels."""
    for i, n in enumerate(channels):
        await CapacityBeacon(redis, f"dialer-{i}", n).announce()


async def add_execution(engine: AsyncEngine, organization_id: str, *, in_flight: int = 0, pending: int = 100,
                        status: str = "running") -> str:
    execution_id, now = str(uuid.uuid4()), datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(text("""
            INSERT INTO executions (id, organization_id, program_id, flow_id, mode, status, did_pool,
                retry_strategy, max_concurrent_calls, total_contacts, contacts_pending, contacts_in_progress,
                scheduled_start_at, actual_start_at, created_at, updated_at)
            VALUES (CAST(:id AS uuid), :org, :program, 'flow', 'batch', :status, '[]', '{"type": "none"}',
                1000, :total, :pending, :in_flight, :now, :now, :now, :now)"""),
            {"id": execution_id, "org": organization_id, "program": str(uuid.uuid4()), "status": status,
             "total": pending + in_flight, "pending": pending, "in_flight": in_flight, "now": now})
    return execution_id


async def claim(conn: AsyncConnection, claimed: Mapping[str, int]) -> None:
    """What a claim does to the counters: pending contacts move to in progress."""
    for execution_id, n in claimed.items():
        await conn.execute(text("""
            UPDATE executions SET contacts_pending = contacts_pending - :n,
                contacts_in_progress = contacts_in_progress + :n WHERE id = CAST(:id AS uuid)"""),
            {"id": execution_id, "n": n})


async def admit(engine: AsyncEngine, gate: FairAdmission, wanted: Iterable[Claimant], budget: int = BIG) -> Admitted:
    async with engine.begin() as conn:
        return await gate.admit(conn, list(wanted), budget)


def most(limit: int, seconds: float) -> int:
    """Tokens a bucket of `limit` refills in at most `seconds` measured by the test."""
    return math.floor(limit * seconds * (1 + SLEW))


async def test_capacity_is_the_announced_channels_minus_every_call_in_flight(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 8, 4)
    busy = await add_execution(engine, "org-x", in_flight=3)
    await add_execution(engine, "org-y", in_flight=2, pending=0, status="cancelled")  # its calls still end
    idle = await add_execution(engine, "org-z")
    gate = admission(redis)
    wanted = [Claimant(busy, "org-x", 50, 3), Claimant(idle, "org-z", 50, 0)]
    # 12 channels, 5 in flight: 7, shared so that both hold 5.
    assert (await admit(engine, gate, wanted)).limits == {busy: 2, idle: 5}
    # A smaller dispatch budget binds first: Z up to X's 3, then the tie to the lower id.
    assert (await admit(engine, gate, wanted, budget=4)).limits == {idle: 3, busy: 1}


async def test_no_free_channel_admits_nothing(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 5)
    busy = await add_execution(engine, "org-x", in_flight=5)
    waiting = await add_execution(engine, "org-z")
    admitted = await admit(engine, admission(redis), [Claimant(busy, "org-x", 10, 5),
                                                      Claimant(waiting, "org-z", 10, 0)])
    assert admitted.limits == {} and admitted.tokens == {}


async def test_no_dialer_announced_leaves_the_budget_alone(engine: AsyncEngine, redis: Redis) -> None:
    first = await add_execution(engine, "org-x", in_flight=30)
    second = await add_execution(engine, "org-z")
    admitted = await admit(engine, admission(redis), [Claimant(first, "org-x", 50, 30),
                                                      Claimant(second, "org-z", 50, 0)], budget=6)
    assert admitted.limits == {second: 6}


async def test_an_organization_at_its_concurrency_limit_gets_nothing_the_rest_goes_to_others(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 10)
    full = await add_execution(engine, "org-a", in_flight=3)
    other = await add_execution(engine, "org-b")
    gate = admission(redis, {"org-a": OrganizationLimits(max_concurrent_calls=3)})
    wanted = [Claimant(full, "org-a", 20, 3), Claimant(other, "org-b", 20, 0)]
    assert (await admit(engine, gate, wanted)).limits == {other: 7}
    # Under a limit of 5 it may take 2 more, whatever its fair share; the rest goes to B.
    gate = admission(redis, {"org-a": OrganizationLimits(max_concurrent_calls=5)})
    assert (await admit(engine, gate, wanted)).limits == {full: 2, other: 5}


async def test_the_limit_counts_every_execution_of_the_organization(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 20)
    one = await add_execution(engine, "org-a", in_flight=2)
    two = await add_execution(engine, "org-a", in_flight=2)
    gate = admission(redis, {"org-a": OrganizationLimits(max_concurrent_calls=6)})
    admitted = await admit(engine, gate, [Claimant(one, "org-a", 20, 2), Claimant(two, "org-a", 20, 2)])
    assert admitted.limits == {one: 1, two: 1}


async def test_calls_per_second_tokens_not_used_go_back(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 4)
    p = await add_execution(engine, "org-p")
    q = await add_execution(engine, "org-q")
    limit = 3
    gate = admission(redis, {o: OrganizationLimits(max_calls_per_second=limit) for o in ("org-p", "org-q")})
    begun = time.monotonic()
    admitted = await admit(engine, gate, [Claimant(p, "org-p", 10, 0), Claimant(q, "org-q", 10, 0)])
    # Each took its whole bucket (3: no more than the 4 channels) and was given 2: 1 went back.
    assert admitted.limits == {p: 2, q: 2}
    assert admitted.tokens == {"org-p": (2, limit), "org-q": (2, limit)}
    # Q's claim started only one call (the other contact was screened out): that token goes back too.
    await gate.settle(admitted, Counter({"org-p": 2, "org-q": 1}))
    rate = OrgCallRate(redis)
    left = await rate.take({"org-p": (LOTS, limit), "org-q": (LOTS, limit)})
    refill = most(limit, time.monotonic() - begun)
    # Without the give-backs the buckets would hold only their refill since the admission.
    assert 1 <= left["org-p"] <= min(limit, 1 + refill), (left, refill)
    assert 2 <= left["org-q"] <= min(limit, 2 + refill), (left, refill)


async def test_without_redis_the_rated_organizations_wait_and_the_budget_holds(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 2)  # unreadable below: the budget alone bounds the pass
    rated = await add_execution(engine, "org-r")
    free = await add_execution(engine, "org-s")
    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=1)
    try:
        gate = admission(gone, {"org-r": OrganizationLimits(max_calls_per_second=5)})
        admitted = await admit(engine, gate, [Claimant(rated, "org-r", 10, 0), Claimant(free, "org-s", 10, 0)],
                               budget=8)
    finally:
        await gone.aclose()
    assert admitted.limits == {free: 8} and admitted.tokens == {}


async def waiting_for_the_dispatch_turn(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        waiting = await conn.execute(text("""
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""))
        return int(waiting.scalar_one())


async def test_two_passes_take_turns_the_second_sees_the_first_ones_claims(engine: AsyncEngine, redis: Redis) -> None:
    await announce(redis, 10)
    a = await add_execution(engine, "org-a")
    b = await add_execution(engine, "org-b")
    gate = admission(redis)
    async with engine.connect() as first:
        await first.begin()
        assert (await gate.admit(first, [Claimant(a, "org-a", 6, 0)], BIG)).limits == {a: 6}
        await claim(first, {a: 6})  # in flight now, not committed yet
        # The second pass read its candidates before the first committed: holdings 0 for both.
        second = asyncio.create_task(admit(engine, gate, [Claimant(a, "org-a", 94, 0), Claimant(b, "org-b", 100, 0)]))
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while await waiting_for_the_dispatch_turn(engine) == 0:
            assert not second.done(), second.result()
            assert time.monotonic() < deadline, "the second pass never queued for its turn"
            await asyncio.sleep(0.02)
        assert not second.done()
        await first.commit()
    # Its turn came after the commit: 4 channels left, all to B (A already holds 6).
    assert (await second).limits == {b: 4}
