"""Which trunks a call may try, in order: those that take the number's country and are not
skipped. Capacity is not decided here: the caller asks the shared limiter (adapters.trunk_limits)
trunk by trunk in this order and waits when none has room.

A trunk that answers 503 or does not answer at all (no response, transport error) is skipped for
SKIP_SECONDS, so the next trunk takes the calls meanwhile (failover). Skips are per dialer
process and counted in real (monotonic) seconds: they follow the trunk's actual state, not the
campaign's clock. A callee who does not pick up is not the trunk failing and skips nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import phonenumbers

from services.dialer.domain.trunks import Trunk

SKIP_SECONDS = 30.0
SERVICE_UNAVAILABLE = 503


@dataclass(frozen=True)
class Skips:
    """Trunk name → the instant (real seconds) until which it is skipped."""

    until: Mapping[str, float] = field(default_factory=dict, hash=False)

    def skip(self, name: str, now: float) -> Skips:
        """These skips plus `name` skipped from `now` for SKIP_SECONDS; ended skips are dropped."""
        kept = {n: t for n, t in self.until.items() if t > now}
        kept[name] = now + SKIP_SECONDS
        return Skips(kept)

    def is_skipped(self, name: str, now: float) -> bool:
        return self.until.get(name, now) > now


def skips_trunk(status_code: int | None, *, transport_error: bool = False) -> bool:
    """True when the trunk itself failed the INVITE: 503, no response at all, or a transport error."""
    return transport_error or status_code is None or status_code == SERVICE_UNAVAILABLE


def country_of(number: str) -> str | None:
    """The ISO alpha-2 region of an E.164 number, or None when the plan names none."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return None
    return region if isinstance(region, str) and len(region) == 2 and region.isalpha() else None


def serving(trunks: Sequence[Trunk], country: str | None) -> tuple[Trunk, ...]:
    """The trunks that take `country`, in order. Empty: no trunk will ever carry the call."""
    return tuple(t for t in trunks if t.takes(country))


def candidates(trunks: Sequence[Trunk], country: str | None, skips: Skips, now: float) -> tuple[Trunk, ...]:
    """The trunks to try, in configuration order: they take `country` and are not skipped.

    Empty while some serving trunk is skipped means wait; see `serving` for the permanent case."""
    return tuple(t for t in serving(trunks, country) if not skips.is_skipped(t.name, now))
