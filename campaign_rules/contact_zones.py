"""The time zones a contact lives in, for its calling hours.

A contact's own `timezone` (an IANA name) wins when it is set and known. Otherwise its number says:
`phonenumbers`' time-zone data maps a number to the zones its prefix serves — one zone for most
numbers, several for some (a US toll-free number spans every US zone). When the number maps to
none ("Etc/Unknown", an invalid or unparsable number) the program's own zone stands in. A contact
with several zones is called only when every one of them allows it (calling_hours.allowed).

Zones travel as a key, their names sorted and joined by "|", so contacts can be grouped by it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import available_timezones

import phonenumbers
from phonenumbers import timezone as phone_zones

SEPARATOR = "|"


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA zone of the zoneinfo database (the check programs use too)."""
    return name in _known()


def number_zones(phone_e164: str) -> tuple[str, ...]:
    """The zones of a number by its prefix, sorted and unique; () when unknown or unparsable."""
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return ()
    names: Iterable[str] = phone_zones.time_zones_for_number(number)
    # "Etc/Unknown" is not a zone, and a name this zoneinfo lacks could not be evaluated.
    return tuple(sorted({name for name in names if is_valid_timezone(name)}))


def zones_for(phone_e164: str, timezone: str | None, fallback: str) -> tuple[str, ...]:
    """The contact's zones: its own `timezone` when set (and known), else its number's, else
    `(fallback,)` (the program's zone). Never empty."""
    if timezone and is_valid_timezone(timezone):
        return (timezone,)
    return number_zones(phone_e164) or (fallback,)


def zone_key(zones: Iterable[str]) -> str:
    """One string for a set of zones: names sorted, unique, joined by "|"."""
    return SEPARATOR.join(sorted(set(zones)))


def zones_of(key: str) -> tuple[str, ...]:
    """The zones of a key made by zone_key; "" is none."""
    return tuple(key.split(SEPARATOR)) if key else ()
