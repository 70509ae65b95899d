"""The dialer against real PostgreSQL, Redis, NATS and the account service, with the sim carrier."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from outbound.account.v1 import account_pb2
from outbound.dialer.v1 import dialer_pb2
from tests.integration.dialer.helpers import (
    Bus,
    dial_request,
    dialer_system,
    new_world,
    number,
    rpc,
    seconds_between,
    settled,
)

SIM_RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": []},
    "rules": [
        {"match": "^\\+2126000001", "outcomes": ["busy", "no_answer", "answered"], "ringSeconds": 10,
         "talkSeconds": 90, "digits": ["1"]},
        # Long calls (1 s real at 600x) so that several overlap.
        {"match": "^\\+2126000002", "outcomes": ["answered"], "talkSeconds": 600},
        {"match": "^\\+2126000003", "outcomes": ["voicemail"]},
    ],
}
DID_CAP = 2


@pytest.fixture(scope="module")
def dialer(system_factory):
    yield from dialer_system(system_factory, SIM_RULES, DID_CAP)


@pytest.fixture
def world(dialer):
    return new_world(dialer)




async def test_answered_call_runs_the_flow_and_is_charged_per_started_minute(world):
    system, stubs, org, flow, did = world
    phone = number("+2126000001")  # answered on attempt 3: ring 10, talk 90, presses 1
    request = dial_request(org, flow, [did], phone, attempt=3)
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        result = await bus.one(request.attempt_id)
    assert result.outcome == "answered"
    assert list(result.node_ids) == ["welcome", "menu", "confirm", "bye"]
    assert result.talk_seconds == 90
    assert result.did_id == did
    assert result.organization_id == org and result.execution_id == request.execution_id
    assert result.contact_id == request.contact_id and result.attempt == 3
    assert seconds_between(result.started_at, result.answered_at) == 10
    assert seconds_between(result.answered_at, result.ended_at) == 90
    # 90 seconds of talk = 2 started minutes.
    assert await settled(stubs, org) == account_pb2.CreditBalance(balance=998, reserved=0, available=998)

    [call] = stubs.calls(org, request.execution_id)
    assert (call.attempt_id, call.outcome, call.phone, call.talk_seconds) == (request.attempt_id, "answered",
                                                                               phone, 90)
    assert list(call.node_ids) == ["welcome", "menu", "confirm", "bye"]
    assert call.did_number.startswith("+21252")
    # Another organization sees none of it.
    assert stubs.calls(stubs.org(), request.execution_id) == []


async def test_outcomes_follow_the_attempt_number_and_unanswered_calls_are_free(world):
    system, stubs, org, flow, did = world
    phone = number("+2126000001")
    execution = str(uuid.uuid4())
    contact = str(uuid.uuid4())
    requests = [dial_request(org, flow, [did], phone, attempt=n, execution_id=execution, contact_id=contact)
                for n in (1, 2, 3, 4)]
    async with Bus(system.nats_url, system.redis_url) as bus:
        for request in requests:
            await bus.dial(request)
        results = [await bus.one(r.attempt_id) for r in requests]
        voicemail = dial_request(org, flow, [did], number("+2126000003"))
        await bus.dial(voicemail)
        vm = await bus.one(voicemail.attempt_id)
    assert [r.outcome for r in results] == ["busy", "no_answer", "answered", "answered"]
    for result in results[:2]:
        assert result.talk_seconds == 0 and list(result.node_ids) == [] and result.answered_at == ""
        assert seconds_between(result.started_at, result.ended_at) == 10
    assert (vm.outcome, vm.talk_seconds, list(vm.node_ids)) == ("voicemail", 0, [])
    # Two answered calls of 90 s: 2 credits each; the busy, no-answer and voicemail calls are free.
    credits = await settled(stubs, org)
    assert (credits.balance, credits.reserved) == (996, 0)


async def test_one_call_per_attempt_id_despite_duplicates_and_redelivery(world):
    system, stubs, org, flow, did = world
    request = dial_request(org, flow, [did], number("+2126000002"))  # 600 s of talk = 10 credits
    async with Bus(system.nats_url, system.redis_url) as bus:
        # The same request published three times under different message ids, while the
        # first call is still in progress: JetStream cannot de-duplicate these.
        await bus.dial(request)
        await bus.dial(request, msg_id="again-1")
        await bus.dial(request, msg_id="again-2")
        first = await bus.one(request.attempt_id)
        # Redelivered long after the call ended: the result is published again, no new call.
        await bus.dial(request, msg_id="again-3")
        await asyncio.sleep(1.5)
    completed = bus.of(request.attempt_id, "call.completed")
    assert all(r == first for r in completed)  # re-publications carry the same call
    assert bus.of(request.attempt_id, "call.rejected") == []
    assert len(stubs.calls(org, request.execution_id)) == 1
    credits = await settled(stubs, org)
    assert (credits.balance, credits.reserved) == (990, 0)


async def test_no_credits_rejects_without_consuming_the_attempt(world):
    system, stubs, _, _, _ = world
    org = stubs.org(credits=0)
    flow = stubs.flow(org)
    did = stubs.did(number("+21253"), "MA", org=org)
    request = dial_request(org, flow, [did], number("+21261"))
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        rejected = await bus.one(request.attempt_id, "call.rejected")
        assert (rejected.outcome, rejected.reason) == ("rejected", "no_credits")
        assert rejected.attempt == 1 and rejected.execution_id == request.execution_id
        # Still no credits: the same attempt requested again is rejected again, and that
        # rejection is delivered too (its message id differs from the first).
        await bus.dial(request, msg_id=f"{request.attempt_id}:again")
        await bus.wait_for(lambda: len(bus.of(request.attempt_id, "call.rejected")) == 2)
        assert stubs.calls(org, request.execution_id) == []

        # Credits arrive; the execution requests the same attempt id again and it is placed.
        rpc(stubs.account.AddCredits, account_pb2.AddCreditsRequest(organization_id=org, amount=5))
        await bus.dial(request, msg_id=f"{request.attempt_id}:resumed")
        completed = await bus.one(request.attempt_id, "call.completed")
    assert completed.outcome == "answered" and completed.talk_seconds == 30
    assert len(stubs.calls(org, request.execution_id)) == 1
    assert await settled(stubs, org) == account_pb2.CreditBalance(balance=4, reserved=0, available=4)


async def test_pool_without_a_usable_did_is_rejected_no_did(world):
    system, stubs, org, flow, _ = world
    inactive = stubs.did(number("+21254"), "MA", org=org, inactive=True)
    deleted = stubs.did(number("+21254"), "MA", org=org)
    rpc(stubs.dialer.DeleteDid, dialer_pb2.DeleteDidRequest(id=deleted))
    request = dial_request(org, flow, [inactive, deleted, str(uuid.uuid4())], number("+21261"))
    async with Bus(system.nats_url, system.redis_url) as bus:
        await bus.dial(request)
        rejected = await bus.one(request.attempt_id, "call.rejected")
    assert (rejected.outcome, rejected.reason) == ("rejected", "no_did")
    assert stubs.credits(org).reserved == 0


async def test_dids_rotate_round_robin_preferring_the_contacts_country(world):
    system, stubs, org, flow, _ = world
    ma1, ma2 = stubs.did(number("+21255"), "MA", org=org), stubs.did(number("+21255"), "MA", org=org)
    fr = stubs.did(number("+3315", 11), "FR", org=org)
    off = stubs.did(number("+21256"), "MA", org=org, inactive=True)
    pool = [ma1, off, fr, ma2]
    execution = str(uuid.uuid4())
    by_country = {"MA": 6, "FR": 2, "US": 3}
    requests = [dial_request(org, flow, pool, number("+21261"), execution_id=execution, country=country)
                for country, n in by_country.items() for _ in range(n)]
    results = {}
    async with Bus(system.nats_url, system.redis_url) as bus:
        # One at a time, so that the per-DID cap never makes the rotation skip a DID.
        for request in requests:
            await bus.dial(request)
            results[request.attempt_id] = await bus.one(request.attempt_id)
    used = {country: Counter(results[r.attempt_id].did_id for r in requests if r.country == country)
            for country in by_country}
    assert used["MA"] == {ma1: 3, ma2: 3}
    assert used["FR"] == {fr: 2}
    assert used["US"] == {ma1: 1, fr: 1, ma2: 1}  # no DID of the country: the whole usable pool
    assert all(r.outcome == "answered" for r in results.values())


async def test_concurrent_calls_per_did_never_exceed_the_cap(world):
    system, stubs, org, flow, did = world
    execution = str(uuid.uuid4())
    requests = [dial_request(org, flow, [did], number("+2126000002"), execution_id=execution)
                for _ in range(6)]
    async with Bus(system.nats_url, system.redis_url) as bus:
        for request in requests:
            await bus.dial(request)
        results = [await bus.one(r.attempt_id) for r in requests]
    assert all(r.outcome == "answered" and r.did_id == did for r in results)
    events = sorted([(r.started_at, 1) for r in results] + [(r.ended_at, -1) for r in results])
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    assert peak <= DID_CAP
    # They did run concurrently: the six calls took less than six calls' time end to end.
    span = seconds_between(min(r.started_at for r in results), max(r.ended_at for r in results))
    assert span < 6 * 605
