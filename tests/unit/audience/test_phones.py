"""The E.164 fast path of normalise_phone takes the decisions of phonenumbers' full parse."""

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kernel import errors
from services.audience.domain import phones
from services.audience.domain.phones import normalise_phone

COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def full_parse(raw: str) -> tuple[str, str] | str:
    """What normalise_phone answered before the fast path: the full parse, always."""
    text = raw.strip()
    if not text.startswith("+"):
        return "phone: invalid phone number (international format starting with + expected)"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return "phone: invalid phone number"
    if not phonenumbers.is_valid_number(number):
        return "phone: invalid phone number"
    region = phonenumbers.region_code_for_number(number) or ""
    if region == "001":
        region = ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region


def decision(raw: str) -> tuple[str, str] | str:
    try:
        return normalise_phone(raw)
    except errors.ValidationError as err:
        return err.message


# "+", a known country code, then digits, often with the national prefixes and zeros the parse
# treats apart; or any "+digits".
_national = st.one_of(st.text("0123456789", max_size=15),
                      st.tuples(st.sampled_from(["0", "00", "1", "8", "9", "06", "15", "0 "]),
                                st.text("0123456789", max_size=13)).map("".join))
# Every region's example numbers of every type, their last digits redrawn, one digit more or less:
# valid and invalid numbers close to the real patterns of each country.
EXAMPLES = sorted({
    phonenumbers.format_number(sample, phonenumbers.PhoneNumberFormat.E164)
    for region in phonenumbers.SUPPORTED_REGIONS
    for kind in range(12)
    if (sample := phonenumbers.example_number_for_type(region, kind)) is not None})
_near_examples = st.tuples(st.sampled_from(EXAMPLES), st.integers(0, 5), st.text("0123456789", max_size=6)).map(
    lambda p: p[0][:len(p[0]) - p[1]] + p[2])
E164ISH = st.one_of(
    _near_examples,
    st.tuples(st.sampled_from(COUNTRY_CODES), _national).map(lambda p: f"+{p[0]}{p[1]}"),
    st.text("0123456789", min_size=1, max_size=17).map(lambda d: "+" + d),
)


@settings(max_examples=5000, deadline=None)
@given(E164ISH)
@example("+33612345678")
@example("+3306123456789")  # a national prefix the parse strips
@example("+390612345678")  # Italian leading zero
@example("+16502530000")
@example("+79161234567")
@example("+882345678901")  # non-geographic
@example("+999123")  # no such country code
def test_fast_path_decides_as_the_full_parse(raw):
    assert decision(raw) == full_parse(raw)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=20))
def test_any_text_is_decided_as_the_full_parse(raw):
    assert decision(raw) == full_parse(raw)


def test_examples_of_every_region_are_decided_as_the_full_parse():
    assert len(EXAMPLES) > 900
    for raw in EXAMPLES:
        assert decision(raw) == full_parse(raw), raw


@pytest.mark.parametrize("raw", ["+33612345678", "+16502530000", "+212600000001"])
def test_plain_e164_takes_the_fast_path(raw):
    assert phones._e164_number(raw) is not None


@pytest.mark.parametrize("raw", ["+33 6 12 34 56 78", "+390612345678", "+3306123456789", "+999123"])
def test_other_forms_take_the_full_parse(raw):
    assert phones._e164_number(raw) is None
