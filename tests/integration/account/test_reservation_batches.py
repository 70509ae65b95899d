"""Batched reservations and settlements answer each item exactly as the single calls would."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from outbound.account.v1 import account_pb2 as pb
from tests.integration.account.test_account_service import account, call, credits, new_org  # noqa: F401


def reserve_batch(stub, items):
    return list(call(stub.ReserveCreditsBatch, pb.ReserveCreditsBatchRequest(items=[
        pb.ReserveCreditsRequest(organization_id=org, reservation_id=rid, amount=amount)
        for org, rid, amount in items])).outcomes)


def settle_batch(stub, items):
    return list(call(stub.SettleReservations, pb.SettleReservationsRequest(items=[
        pb.SettleReservationRequest(reservation_id=rid, amount=amount) for rid, amount in items])).outcomes)


def test_a_batch_reserves_in_order_until_the_balance_is_spent(account):  # noqa: F811
    _, stub = account
    org = new_org(stub, credits=3).organization.id
    other = new_org(stub, credits=1).organization.id
    p = uuid.uuid4().hex
    outcomes = reserve_batch(stub, [(org, f"{p}a", 1), (org, f"{p}b", 1), (other, f"{p}x", 1), (org, f"{p}a", 1),
                                    (org, f"{p}c", 1), (org, f"{p}d", 1), (str(uuid.uuid4()), f"{p}e", 1),
                                    (org, "", 1), (other, f"{p}y", 1)])
    assert [o.reserved for o in outcomes[:6]] == [True, True, True, True, True, False]
    assert outcomes[5].credits == pb.CreditBalance(balance=3, reserved=3, available=0)
    assert [o.error for o in outcomes] == ["", "", "", "", "", "", "OrganizationNotFoundError", "ValidationError", ""]
    assert not outcomes[8].reserved
    assert credits(stub, org) == pb.CreditBalance(balance=3, reserved=3, available=0)
    # Repeats, in a batch or alone, answer the first outcome.
    call(stub.AddCredits, pb.AddCreditsRequest(organization_id=org, amount=10))
    again = reserve_batch(stub, [(org, f"{p}d", 1), (org, f"{p}a", 1)])
    assert [o.reserved for o in again] == [False, True]
    alone = call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id=f"{p}c", amount=1))
    assert alone.reserved and credits(stub, org).reserved == 3


def test_a_batch_settles_each_once_and_never_overdraws(account):  # noqa: F811
    _, stub = account
    org = new_org(stub, credits=10).organization.id
    p = uuid.uuid4().hex
    assert all(o.reserved for o in reserve_batch(stub, [(org, f"{p}{i}", 1) for i in range(3)]))
    outcomes = settle_batch(stub, [(f"{p}0", 2), (f"{p}1", 25), (f"{p}0", 7), (f"{p}missing", 1), (f"{p}2", 0)])
    # 25 is capped at what the other reservation leaves free; the repeat answers the first charge.
    assert [o.charged for o in outcomes[:3]] == [2, 7, 2]
    assert outcomes[3].error == "NotFoundError"
    assert outcomes[4].charged == 0
    assert outcomes[4].credits == pb.CreditBalance(balance=1, reserved=0, available=1)
    single = call(stub.SettleReservation, pb.SettleReservationRequest(reservation_id=f"{p}1", amount=1))
    assert single.charged == 7
    assert credits(stub, org) == pb.CreditBalance(balance=1, reserved=0, available=1)


@pytest.mark.parametrize("batch", [1, 7])
def test_concurrent_batches_and_single_calls_never_exceed_the_balance(account, batch):  # noqa: F811
    _, stub = account
    org = new_org(stub, credits=40).organization.id
    p = uuid.uuid4().hex

    def one(i: int) -> int:
        ids = [f"{p}-{i}-{k}" for k in range(batch)]
        if i % 2:
            got = [call(stub.ReserveCredits, pb.ReserveCreditsRequest(organization_id=org, reservation_id=r,
                                                                      amount=1)).reserved for r in ids]
        else:
            got = [o.reserved for o in reserve_batch(stub, [(org, r, 1) for r in ids])]
        held = [r for r, ok in zip(ids, got, strict=True) if ok]
        settle_batch(stub, [(r, 1) for r in held])
        return len(held)

    with ThreadPoolExecutor(max_workers=20) as pool:
        charged = sum(pool.map(one, range(60)))
    assert charged == 40
    assert credits(stub, org) == pb.CreditBalance(balance=0, reserved=0, available=0)
