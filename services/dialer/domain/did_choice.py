"""Which DID of a pool places the next call: round-robin, own country first, under the cap."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DidInfo:
    id: str
    number: str
    country: str
    active: bool = True
    deleted: bool = False

    @property
    def usable(self) -> bool:
        return self.active and not self.deleted


def usable_dids(pool: Sequence[DidInfo]) -> list[DidInfo]:
    """Usable DIDs in pool order, each once."""
    seen: set[str] = set()
    out = []
    for did in pool:
        if did.usable and did.id not in seen:
            seen.add(did.id)
            out.append(did)
    return out


def preferred_group(pool: Sequence[DidInfo], country: str) -> tuple[str, list[DidInfo]]:
    """The DIDs a call to `country` rotates over, and the group's key.

    When the pool holds a usable DID of the contact's country, only those are used
    (local caller ID); otherwise the whole usable pool. Each group keeps its own
    rotation counter so that contacts of different countries do not skew each other.
    """
    usable = usable_dids(pool)
    wanted = (country or "").upper()
    local = [d for d in usable if wanted and d.country.upper() == wanted]
    if local:
        return wanted, local
    return "*", usable


def rotation(candidates: Sequence[DidInfo], counter: int) -> list[DidInfo]:
    """The candidates in the order to try them: starting at counter mod n, wrapping."""
    if not candidates:
        return []
    start = counter % len(candidates)
    return [*candidates[start:], *candidates[:start]]


def choose_did(pool: Sequence[DidInfo], country: str, counter: int,
               in_use: Mapping[str, int], cap: int) -> DidInfo | None:
    """The DID for the next call, or None when every candidate is at its cap.

    The adapter applies the same order atomically in Redis; this is the reference.
    """
    _, candidates = preferred_group(pool, country)
    for did in rotation(candidates, counter):
        if in_use.get(did.id, 0) < cap:
            return did
    return None
