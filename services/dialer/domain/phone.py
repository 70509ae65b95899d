"""E.164 numbers and ISO country codes, checked with phonenumbers."""

from __future__ import annotations

import re

import phonenumbers

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalize_e164(value: str) -> str | None:
    """The number in E.164 form, or None when it is not a plausible E.164 number.

    Plausible means: strict E.164 shape and a length phonenumbers deems possible for
    the country code. Numbers in ranges a national plan has not assigned (test ranges,
    new ranges) are accepted: the carrier is the judge of those.
    """
    if not isinstance(value, str) or not _E164.match(value.strip()):
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_country(value: str) -> str | None:
    """ISO 3166 alpha-2 code (upper case) known to the numbering plan, or None."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    if len(code) != 2 or code not in phonenumbers.SUPPORTED_REGIONS:
        return None
    return code


def number_in_country(number: str, country: str) -> bool:
    """True when the number's country calling code is the country's (e.g. +212 for MA)."""
    parsed = phonenumbers.parse(number, None)
    return phonenumbers.country_code_for_region(country) == parsed.country_code
