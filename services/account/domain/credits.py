"""Credit arithmetic: what a settlement may charge without overdrawing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Balance:
    balance: int
    reserved: int

    @property
    def available(self) -> int:
        return self.balance - self.reserved


def settle_charge(requested: int, balance: int, reserved: int, held: int) -> int:
    """The charge of settling a reservation of `held` credits for `requested` credits.

    The reservation is released first; the charge is capped so that the balance minus
    the other reservations stays >= 0 (the call already happened: never refuse, never
    overdraw).
    """
    free_after_release = balance - (reserved - held)
    return max(0, min(requested, free_after_release))
