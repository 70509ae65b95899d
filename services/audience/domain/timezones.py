"""A contact's time zone: an IANA name that the zoneinfo database knows, or none.

The name is kept as written (names are case-sensitive on most systems), so that whoever reads
it later (the execution's calling hours) opens the same zone with `zoneinfo.ZoneInfo`."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from kernel import errors

# Files of some zone databases that name no place: the server's own zone, the rules template,
# and tzdata's "zone not set yet".
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    # Read once per process: the set walks the zone files (system and tzdata), ~600 names.
    return frozenset(zoneinfo.available_timezones()) - _NOT_PLACES


def validate_timezone(value: str | None, field: str = "timezone") -> str | None:
    """The zone's IANA name (surrounding blanks dropped), None for none (None or blank);
    a name zoneinfo does not know is a ValidationError naming `field`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.ValidationError(f"{field}: expected a string", field=field)
    name = value.strip()
    if not name:
        return None
    if name not in _known():
        raise errors.ValidationError(
            f"{field}: unknown time zone (an IANA name such as Europe/Paris or America/New_York expected)",
            field=field)
    return name
