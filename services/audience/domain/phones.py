"""Phone numbers: international format in, E.164 and the number's country out."""

from __future__ import annotations

import phonenumbers

from kernel import errors


def normalise_phone(raw: str, field: str = "phone") -> tuple[str, str]:
    """(E.164 number, ISO 3166 alpha-2 region) of a valid "+…" number, else ValidationError."""
    text = (raw or "").strip() if isinstance(raw, str) else ""
    if not text.startswith("+"):
        raise errors.ValidationError(
            f"{field}: invalid phone number (international format starting with + expected)", field=field)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise errors.ValidationError(f"{field}: invalid phone number", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise errors.ValidationError(f"{field}: invalid phone number", field=field)
    region = phonenumbers.region_code_for_number(number) or ""
    if region == "001":  # non-geographic numbers (satellite, UIFN) have no country
        region = ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region
