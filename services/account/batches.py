"""Batched reservations and settlements: many in one transaction (the dialer's hot path).

Each item is answered exactly as the single call (service.py) would answer it alone, in request
order; a bad item answers its error without failing the others. The same lock order holds:
organization rows (sorted), then reservation rows. The rule applied to each item is the one of
domain/reservations.py, on the credits as the earlier items of the batch left them.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import errors
from kernel.clock import get_clock
from services.account.adapters import repository as repo
from services.account.domain import organizations, reservations
from services.account.domain.errors import OrganizationNotFoundError, reservation_not_found
from services.account.domain.reservations import Reservation, Settlement

T = TypeVar("T")
ReserveItem = tuple[str, str, int]  # (organization id, reservation id, amount)
SettleItem = tuple[str, int]  # (reservation id, amount)


class ReservationBatches:
    def __init__(self, engine: AsyncEngine):
        self._engine = engine

    async def reserve_many(self, items: list[ReserveItem]) -> list[Reservation | errors.DomainError]:
        answers: list[Reservation | errors.DomainError | None] = [None] * len(items)
        valid: list[tuple[int, uuid.UUID, str, int]] = []
        for i, (organization_id, reservation_id, amount) in enumerate(items):
            try:
                valid.append((i, organizations.parse_id(organization_id), reservations.check_reservation_id(reservation_id),
                              reservations.check_amount(amount)))
            except errors.DomainError as exc:
                answers[i] = exc
        if valid:
            async with self._engine.begin() as conn:
                balances = await repo.lock_balances(conn, {v[1] for v in valid})
                existing = {rid: (row.organization_id, row.state)
                            for rid, row in (await repo.reservations(conn, {v[2] for v in valid})).items()}
                fresh: list[repo.NewReservation] = []
                changed: set[uuid.UUID] = set()
                for i, org, reservation_id, amount in valid:
                    credits = balances.get(org)
                    if credits is None:
                        answers[i] = OrganizationNotFoundError()
                        continue
                    if reservation_id in existing:  # a repeated call answers the first outcome
                        owner, state = existing[reservation_id]
                        owner_credits = balances[owner] if owner in balances else await repo.existing_balance(conn, owner)
                        answers[i] = Reservation(reservations.is_reserved(state), owner_credits)
                        continue
                    opening = reservations.open_reservation(credits, amount)
                    if opening.state == reservations.HELD:
                        balances[org] = opening.credits
                        changed.add(org)
                    existing[reservation_id] = (org, opening.state)
                    fresh.append(repo.NewReservation(reservation_id, org, amount, opening.state))
                    answers[i] = opening.answer
                if fresh:
                    if await repo.insert_reservations(conn, fresh, get_clock().now()) != len(fresh):
                        # Another organization's call took one of these ids meanwhile: roll back, retry.
                        raise errors.ConflictError("reservation id taken concurrently; retry")
                    await repo.write_balances(conn, {org: balances[org] for org in changed})
        return _answered(answers)

    async def settle_many(self, items: list[SettleItem]) -> list[Settlement | errors.DomainError]:
        answers: list[Settlement | errors.DomainError | None] = [None] * len(items)
        valid: list[tuple[int, str, int]] = []
        for i, (reservation_id, amount) in enumerate(items):
            try:
                valid.append((i, reservations.check_reservation_id(reservation_id), reservations.check_amount(amount)))
            except errors.DomainError as exc:
                answers[i] = exc
        if valid:
            rids = list({v[1] for v in valid})
            async with self._engine.begin() as conn:
                balances = await repo.lock_balances(conn, await repo.reservation_owners(conn, rids))
                rows = await repo.lock_reservations(conn, rids)
                state = {rid: (row.state, row.charged) for rid, row in rows.items()}
                settled: dict[str, int] = {}
                for i, reservation_id, amount in valid:
                    row = rows.get(reservation_id)
                    if row is None:
                        answers[i] = reservation_not_found()
                        continue
                    current, charged = state[reservation_id]
                    if reservations.can_transition(current, reservations.SETTLED):
                        settlement = reservations.settle(balances[row.organization_id], row.amount, amount)
                        charged = settlement.charged
                        balances[row.organization_id] = settlement.credits
                        state[reservation_id] = (reservations.SETTLED, charged)
                        settled[reservation_id] = charged
                    answers[i] = Settlement(charged, balances[row.organization_id])
                if settled:
                    await repo.write_balances(conn, {rows[r].organization_id: balances[rows[r].organization_id]
                                                     for r in settled})
                    await repo.settle_many(conn, settled, get_clock().now())
        return _answered(answers)


def _answered(answers: list[T | None]) -> list[T]:
    out = [answer for answer in answers if answer is not None]
    assert len(out) == len(answers)  # every item is answered, in request order
    return out
