"""The CSV row rule: a row is read exactly as the same contact sent as JSON to POST /api/contacts."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import errors
from services.audience.domain.contacts import validate_contact
from services.audience.domain.csv_rows import read_header, read_row

TYPES = {"amount": "number", "vip": "boolean", "renewal": "date", "notes": "text"}
ABSENT = object()  # the JSON contact leaves the field out

# (cell, the JSON value it stands for): valid and invalid values of each column.
PHONES = [("+33612345678", "+33612345678"), (" +33 6 12 34 56 79 ", " +33 6 12 34 56 79 "),
          ("0612345678", "0612345678"), ("+1", "+1"), ("", ""), ("+16502530000", "+16502530000")]
NAMES = [("Ada", "Ada"), ("", ABSENT), ("  ", ABSENT), ("x" * 201, "x" * 201), (" Jo ", " Jo ")]
ZONES = [("Europe/Paris", "Europe/Paris"), ("", ABSENT), ("Mars/Olympus", "Mars/Olympus")]
AMOUNTS = [("42", 42), ("-3", -3), ("12.5", 12.5), ("1e3", 1000.0), ("lots", "lots"), ("", ABSENT),
           ("nan", float("nan")), ("9007199254740993", 9007199254740993)]
VIPS = [("true", True), ("No", False), ("1", True), ("0", False), ("maybe", "maybe"), ("", ABSENT)]
RENEWALS = [("2027-01-15", "2027-01-15"), ("2027-01-15T10:00:00+02:00", "2027-01-15T10:00:00+02:00"),
            ("someday", "someday"), ("", ABSENT)]
NOTES = [("hello, world", "hello, world"), ("", ABSENT), ("x" * 10_001, "x" * 10_001)]
COLUMNS = {"phone": PHONES, "name": NAMES, "timezone": ZONES, "amount": AMOUNTS, "vip": VIPS,
           "renewal": RENEWALS, "notes": NOTES}


def outcome(call) -> Any:
    try:
        contact = call()
    except errors.ValidationError as err:
        return ("error", err.field, err.message)
    return ("ok", repr(contact))  # repr: NaN never equals itself, its repr does


@settings(max_examples=1500, deadline=None)
@given(st.permutations(list(COLUMNS)).flatmap(lambda order: st.tuples(
    st.just(order), st.tuples(*(st.sampled_from(COLUMNS[name]) for name in order)))))
def test_a_row_is_read_as_the_json_contact(drawn):
    order, values = drawn
    layout = read_header(list(order), TYPES)
    given_ = dict(zip(order, values, strict=True))

    def json_value(name: str) -> Any:
        return given_[name][1]
    # The JSON object's keys in the file's column order: the first invalid attribute is the same.
    attributes = {slug: json_value(slug) for slug in order if slug in TYPES and json_value(slug) is not ABSENT}
    name = None if json_value("name") is ABSENT else json_value("name")
    zone = None if json_value("timezone") is ABSENT else json_value("timezone")
    expected = outcome(lambda: validate_contact(json_value("phone"), name, attributes, TYPES, timezone=zone))
    assert outcome(lambda: read_row([cell for cell, _ in values], layout)) == expected


def test_header_columns():
    layout = read_header([" Phone", "NAME", "amount"], TYPES)
    assert (layout.phone, layout.name, layout.timezone, layout.attributes) == (0, 1, None, ((2, "amount", "number"),))
    for names, message in [(["phone", "colour"], "header: unknown column 'colour'"),
                           (["name"], "header: a 'phone' column is required"),
                           (["phone", "PHONE"], "header: column 'phone' appears twice"),
                           (["phone", ""], "header: unknown column ''")]:
        with pytest.raises(errors.ValidationError) as caught:
            read_header(names, TYPES)
        assert caught.value.message.startswith(message) and caught.value.field == "header"


def test_cells_missing_at_the_end_are_empty_and_surplus_cells_refuse_the_row():
    layout = read_header(["phone", "name", "vip"], TYPES)
    assert read_row(["+33612345678"], layout).attributes == {}
    with pytest.raises(errors.ValidationError) as caught:
        read_row(["+33612345678", "Ada", "true", "more"], layout)
    assert (caught.value.field, caught.value.message) == ("row", "row: 4 cells, the header has 3")


def test_a_nul_character_refuses_the_row_naming_its_column():
    layout = read_header(["phone", "notes"], TYPES)
    with pytest.raises(errors.ValidationError) as caught:
        read_row(["+33612345678", "a\x00b"], layout)
    assert caught.value.field == "attributes.notes"
