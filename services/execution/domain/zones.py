"""The zone key of each contact of an execution with calling hours.

A contact's zones are its own time zone when it has one, else its number's zones, else the
program's time zone (campaign_rules.contact_zones); one key names that set. An execution
without calling hours keeps no zone key at all (NULL): nothing is computed at its launch.

A number's zones come from phonenumbers' zone data, which is keyed by prefixes of at most nine
digits; parsing each number costs ~30 µs, so a launch of a million contacts asks once per
(first ten characters, length) and reuses the answer for the numbers sharing them.
"""

from __future__ import annotations

from collections.abc import Callable

from campaign_rules.contact_zones import zone_key, zones_for
from services.execution.domain.launch import ProgramSnapshot

PREFIX = 10  # "+" and nine digits: the longest prefix of phonenumbers' zone data
MAX_PREFIXES = 200_000


def zone_key_of(timezone: str) -> Callable[[str, str], str]:
    """(phone, contact's time zone or "") → zone key, for an execution in `timezone`."""
    by_prefix: dict[tuple[str, int], str] = {}

    def key(phone: str, contact_zone: str) -> str:
        if contact_zone:
            return zone_key(zones_for(phone, contact_zone, timezone))
        prefix = (phone[:PREFIX], len(phone))
        found = by_prefix.get(prefix)
        if found is None:
            if len(by_prefix) >= MAX_PREFIXES:
                by_prefix.clear()
            found = by_prefix[prefix] = zone_key(zones_for(phone, None, timezone))
        return found

    return key


def zone_keys_for(program: ProgramSnapshot) -> Callable[[str, str], str] | None:
    return None if program.calling_hours is None else zone_key_of(program.timezone)
