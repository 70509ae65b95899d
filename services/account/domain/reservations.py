"""Credit reservations: the reserve rule and the states a reservation goes through.

A reservation id is answered once: the first reserve records the reservation `held` (its amount
is set aside from the available credits) or `refused` (not enough available), and every repeat
answers that first outcome, even after credits were added. Only a held reservation changes
again, once: `settled` (charged what the call cost, never overdrawing) or `released` (given back
without charge). Settling or releasing in any other state changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernel import errors
from kernel.transitions import Transitions
from services.account.domain.credits import Balance, settle_charge

HELD = "held"
REFUSED = "refused"
SETTLED = "settled"
RELEASED = "released"

OPENING = (HELD, REFUSED)  # the states a reservation is recorded in
ALL = (HELD, REFUSED, SETTLED, RELEASED)

TRANSITIONS: dict[str, frozenset[str]] = {
    HELD: frozenset({SETTLED, RELEASED}),
    REFUSED: frozenset(),
    SETTLED: frozenset(),
    RELEASED: frozenset(),
}

MAX_RESERVATION_ID = 200


_TABLE = Transitions(ALL, TRANSITIONS)
can_transition = _TABLE.allows
sources = _TABLE.sources  # every status from which a target may be reached, in ALL order


def is_reserved(state: str) -> bool:
    """The `reserved` answer of a reservation in `state` (a repeated reserve answers it)."""
    return state != REFUSED


def check_reservation_id(value: str) -> str:
    if not value or len(value) > MAX_RESERVATION_ID:
        raise errors.ValidationError(f"reservationId: must be 1 to {MAX_RESERVATION_ID} characters",
                                     field="reservationId")
    return value


def check_amount(amount: int) -> int:
    if amount < 0:
        raise errors.ValidationError("amount: must be >= 0", field="amount")
    return amount


@dataclass(frozen=True)
class Reservation:
    """The answer of a reserve: whether the amount is held, and the credits after it."""

    reserved: bool
    credits: Balance


@dataclass(frozen=True)
class Settlement:
    """The answer of a settle: what was charged (the first charge for a repeat), and the credits."""

    charged: int
    credits: Balance


@dataclass(frozen=True)
class Opening:
    """The reserve rule's decision for a new reservation id."""

    state: str
    credits: Balance  # after the reservation

    @property
    def answer(self) -> Reservation:
        return Reservation(is_reserved(self.state), self.credits)


def open_reservation(credits: Balance, amount: int) -> Opening:
    """A new reservation of `amount` against the organization's current (locked) credits: held
    when the available credits cover it, which sets it aside; refused otherwise."""
    if credits.available >= amount:
        return Opening(HELD, Balance(credits.balance, credits.reserved + amount))
    return Opening(REFUSED, credits)


def settle(credits: Balance, held: int, requested: int) -> Settlement:
    """Settling a held reservation of `held` credits for `requested`: the hold is given back and
    the charge capped so that the credits held by other reservations stay covered."""
    charge = settle_charge(requested, credits.balance, credits.reserved, held)
    return Settlement(charge, Balance(credits.balance - charge, credits.reserved - held))


def release(credits: Balance, held: int) -> Balance:
    """Releasing a held reservation of `held` credits: given back, nothing charged."""
    return Balance(credits.balance, credits.reserved - held)
