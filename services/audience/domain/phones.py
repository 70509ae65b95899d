"""Phone numbers: international format in, E.164 and the number's country out.

A number already written in E.164 ("+" and digits only, the usual case of a file of a million
rows) skips phonenumbers' general parse: its country code and national number are read off the
digits exactly as the parse reads them, and whenever the parse could read them otherwise (a
national prefix it would strip, a leading zero, no known country code) the full parse decides.
Validity and region then come from the same phonenumbers calls either way, so both paths take
the same decisions (tests/unit/audience/test_phones.py checks it); on that path the E.164 form is
the text itself. The validity test of the number's type (phonenumbers' `_number_type_helper(...)
!= UNKNOWN`) is asked of the same patterns and lengths, compiled once per region and tried in
one pass, mobile and fixed line first."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import phonenumberutil

from kernel import errors

_E164 = re.compile(r"\+([1-9][0-9]{1,14})")
_MAX_COUNTRY_CODE_DIGITS = 3


# The number types _number_type_helper tries before fixed line and mobile, in its order.
_OTHER_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")
_Check = tuple[frozenset[int], re.Pattern[str]] | None  # (possible lengths, pattern); None never matches
_TYPE_CHECKS: dict[int, tuple[Any, _Check, tuple[_Check, ...]]] = {}


def _check(desc: Any) -> _Check:
    """_is_number_matching_desc's test of one description, compiled."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _matches(check: _Check, national: str) -> bool:
    if check is None:
        return False
    lengths, pattern = check
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


def _has_type(national: str, metadata: Any) -> bool:
    """_number_type_helper(national, metadata) != PhoneNumberType.UNKNOWN."""
    checks = _TYPE_CHECKS.get(id(metadata))
    if checks is None or checks[0] is not metadata:
        mobile = None if metadata.same_mobile_and_fixed_line_pattern else _check(metadata.mobile)
        # Whether any type matches does not depend on the order they are tried in: the usual
        # ones, mobile and fixed line, go first.
        checks = (metadata, _check(metadata.general_desc),
                  (mobile, *(_check(getattr(metadata, name)) for name in ("fixed_line", *_OTHER_TYPES))))
        _TYPE_CHECKS[id(metadata)] = checks
    _, general, types = checks
    if not _matches(general, national):
        return False
    return any(_matches(check, national) for check in types)


def _valid_for_region(country_code: int, national: str, region: str) -> bool:
    """phonenumbers.is_valid_number_for_region(number, region) of the number with that country
    code and national significant number."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region.upper())
    if metadata is None or (region != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY
                            and country_code != phonenumbers.country_code_for_valid_region(region)):
        return False
    return _has_type(national, metadata)


def _invalid(field: str) -> errors.ValidationError:
    return errors.ValidationError(f"{field}: invalid phone number", field=field)


def _e164_number(text: str) -> tuple[phonenumbers.PhoneNumber, str] | None:
    """The number phonenumbers.parse(text) would read and its national significant number, when
    `text` is plain E.164 and the parse could read it in no other way; None to leave the decision
    to the parse."""
    match = _E164.fullmatch(text)
    if match is None:
        return None
    digits = match.group(1)
    for size in range(1, _MAX_COUNTRY_CODE_DIGITS + 1):  # the parse's own search: shortest known code first
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if len(national) < 2 or national[0] == "0":  # too short, or Italian leading zeros: the parse's cases
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, phonenumbers.region_code_for_country_code(country_code))
    if metadata is None:
        return None
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national:  # the parse may keep the number without its national prefix
        return None
    return phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national)), national


def normalise_phone(raw: str, field: str = "phone") -> tuple[str, str]:
    """(E.164 number, ISO 3166 alpha-2 region) of a valid "+…" number, else ValidationError."""
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not text.startswith("+"):
        raise errors.ValidationError(
            f"{field}: invalid phone number (international format starting with + expected)", field=field)
    read = _e164_number(text)
    if read is not None:
        number, national = read
        region = phonenumbers.region_code_for_number(number)
        if region is None or not _valid_for_region(int(number.country_code or 0), national, region):
            raise _invalid(field)  # no region: is_valid_number_for_region answers False
        # Its E.164 form is the text itself: "+", the country code, the national number (read
        # without leading zeros, so formatting it gives back the same digits).
        return text, "" if region == "001" else region
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise _invalid(field) from None
    # is_valid_number(number), with the region it looks up kept for the answer.
    region = phonenumbers.region_code_for_number(number)
    if region is None or not phonenumbers.is_valid_number_for_region(number, region):  # None: never valid
        raise _invalid(field)
    if region == "001":  # non-geographic numbers (satellite, UIFN) have no country
        region = ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region
