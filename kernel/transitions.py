"""A transition table, asked the same way by every context's state machine: may a state move to
a target, and from which states may a target be reached (the allowed set of a compare-and-set)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Transitions:
    """`table`: state → the states it may move to; `states`: every state, in the order `sources`
    answers them."""

    states: tuple[str, ...]
    table: Mapping[str, frozenset[str]]

    def allows(self, current: str, target: str) -> bool:
        return target in self.table.get(current, frozenset())

    def sources(self, target: str) -> tuple[str, ...]:
        return tuple(s for s in self.states if target in self.table[s])
