"""Do-not-call rules: the import's syntax check, lookups, reasons, add requests, the import tally."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel import errors
from services.audience.domain.dnc import (
    MAX_INVALID_REPORTED,
    MAX_PHONES,
    ImportTally,
    import_error,
    import_number,
    lookup_number,
    sort_phones,
    validate_reason,
)

e164 = st.builds(lambda first, rest: f"+{first}{rest}", st.integers(1, 9),
                 st.text("0123456789", min_size=7, max_size=14))


@pytest.mark.parametrize("raw,number", [
    ("+33612345678", "+33612345678"),
    ("  +33 6 12 34 56 78\t", "+33612345678"),
    ("+1-650-253-0000", "+16502530000"),
    ("+212.600.000.001", "+212600000001"),
    ("+33\u00a0612345678", "+33612345678"),
    ("+12345678", "+12345678"),  # 8 digits, the shortest accepted
    ("+123456789012345", "+123456789012345"),  # 15 digits, the longest
])
def test_import_accepts_plus_and_8_to_15_digits(raw, number):
    assert import_number(raw) == number


@pytest.mark.parametrize("raw", ["", "   ", "0612345678", "33612345678", "+1234567", "+1234567890123456",
                                 "+0612345678", "+33 6 12 34 56 7x", "+(33)612345678", "++33612345678",
                                 "+33612345678;", "phone", "+٣٣٦١٢٣٤٥٦٧٨"])
def test_import_refuses_anything_else(raw):
    assert import_number(raw) is None


@given(e164, st.lists(st.sampled_from([" ", "-", "."]), max_size=4), st.data())
def test_separators_never_change_the_number(number, separators, data):
    text = number
    for separator in separators:
        at = data.draw(st.integers(1, len(text)))
        text = text[:at] + separator + text[at:]
    assert import_number(text) == number


@given(st.text(max_size=20))
def test_an_accepted_number_is_plus_and_digits(text):
    number = import_number(text)
    if number is not None:
        assert number[0] == "+" and number[1:].isascii() and number[1:].isdigit() and 8 <= len(number) - 1 <= 15


def test_import_errors_say_why():
    assert import_error("  ") == "phone: empty"
    assert import_error("0612345678").startswith("phone: invalid phone number (international format")
    assert import_error("+12") == "phone: invalid phone number (+ then 8 to 15 digits expected)"


def test_lookups_normalise_like_contacts_and_fall_back_to_the_syntax():
    assert lookup_number("+33 6 12 34 56 78") == "+33612345678"
    assert lookup_number("+330612345678") == "+33612345678"  # the trunk 0 dropped, as for a contact
    assert lookup_number("+15550100123") == "+15550100123"  # a fictional range: found as imported
    with pytest.raises(errors.ValidationError, match=r"^phone: invalid phone number"):
        lookup_number("0612345678")


def test_reasons():
    assert validate_reason(None) is None
    assert validate_reason("  ") is None
    assert validate_reason("  asked by mail ") == "asked by mail"
    assert validate_reason("x" * 200) == "x" * 200
    with pytest.raises(errors.ValidationError, match=r"^reason: at most 200 characters") as caught:
        validate_reason("x" * 201)
    assert caught.value.field == "reason"


def test_add_requests_normalise_keep_repeats_and_name_invalid_indexes():
    phones = sort_phones(["+33 6 12 34 56 78", "bad", "+33612345678", "+1 555 0100 123", ""])
    assert phones.numbers == ["+33612345678", "+33612345678"]
    assert [i for i, _ in phones.invalid] == [1, 3, 4]
    assert all(e.startswith("phone: invalid phone number") for _, e in phones.invalid)


def test_add_request_sizes():
    with pytest.raises(errors.ValidationError, match=r"^phones: at least one number"):
        sort_phones([])
    with pytest.raises(errors.ValidationError, match=rf"^phones: at most {MAX_PHONES} numbers"):
        sort_phones(["+33612345678"] * (MAX_PHONES + 1))


lines = st.one_of(e164, st.text(max_size=12), st.sampled_from(["", "+1", "0612345678", " +33 6 12 34 56 78 "]))


@given(st.lists(st.lists(lines, max_size=30), max_size=5))
def test_every_line_is_a_number_or_invalid(chunks):
    tally = ImportTally()
    line = 0
    found = 0
    for chunk in chunks:
        numbers = tally.numbers(chunk, list(range(line + 1, line + 1 + len(chunk))))
        assert numbers == [n for n in map(import_number, chunk) if n is not None]
        found += len(numbers)
        line += len(chunk)
    assert found + tally.invalid_count == line
    assert [n for n, _ in tally.invalid] == [i + 1 for i, text in enumerate(t for c in chunks for t in c)
                                              if import_number(text) is None]


def test_invalid_lines_are_all_counted_and_the_first_ones_reported():
    tally = ImportTally()
    texts = ["bad"] * (MAX_INVALID_REPORTED + 500) + ["+33612345678"]
    assert tally.numbers(texts, list(range(10, 10 + len(texts)))) == ["+33612345678"]
    assert tally.invalid_count == MAX_INVALID_REPORTED + 500
    assert len(tally.invalid) == MAX_INVALID_REPORTED
    assert tally.invalid[0] == (10, "phone: invalid phone number (international format starting with + expected)")
    tally.inserted(numbers=1, added=0)
    tally.inserted(numbers=7, added=5)
    assert (tally.added, tally.already_listed) == (5, 3)


def test_a_chunk_needs_one_line_number_per_line():
    with pytest.raises(errors.ValidationError, match=r"^lineNumbers:"):
        ImportTally().numbers(["+33612345678"], [])


def test_a_reason_postgresql_cannot_store_is_refused():
    with pytest.raises(errors.ValidationError, match=r"^reason: must not contain the NUL character"):
        validate_reason("a\x00b")
