"""Reading contact rows out of a CSV upload piece by piece (gateway.contacts_csv)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contacts_csv import CsvContacts
from kernel import errors


def read(data: bytes, cuts: list[int] | None = None) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """The header and (line, cells) of every row, the body fed in pieces cut at `cuts`."""
    parser = CsvContacts()
    bounds = [0, *sorted(set(cuts or [])), len(data)]
    rows: list[tuple[int, list[str]]] = []

    def take(found):
        start = 0
        for count, line in zip(found.counts, found.lines, strict=True):
            rows.append((line, found.cells[start:start + count]))
            start += count
    for start, end in zip(bounds, bounds[1:], strict=False):
        take(parser.feed(data[start:end]))
    take(parser.close())
    return parser.header, rows


def test_header_then_rows_with_their_lines():
    header, rows = read(b"\xef\xbb\xbfphone,name\r\n\r\n+33612345678,Ada\r\n\"+33 6 12\",\"Smith, Jo\nJr\"\n+1;x")
    assert header == ["phone", "name"]
    assert rows == [(3, ["+33612345678", "Ada"]), (4, ["+33 6 12", "Smith, Jo\nJr"]), (6, ["+1;x"])]


def test_semicolons_and_tabs():
    assert read(b"phone;name\n+33612345678;Ada\n")[1] == [(2, ["+33612345678", "Ada"])]
    assert read(b"phone\tname\n+33612345678\tAda\n")[1] == [(2, ["+33612345678", "Ada"])]


def test_blank_and_delimiter_only_lines_are_skipped_but_counted():
    assert read(b"phone,name\n,\n  \n+33612345678,Ada\n")[1] == [(4, ["+33612345678", "Ada"])]


def test_nothing_but_blank_lines_has_no_header():
    assert read(b"\n\n") == (None, [])


BODY = ('phone,name,notes\n+33612345678,Ada,"a, b"\r\n\n"+33 6 12 34 56 79","Jo ""J""",x\r'
        '+33612345680,"two\nlines",\n+33612345681,Zed,é\n').encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(BODY)), max_size=8))
def test_the_same_rows_whatever_the_pieces(cuts):
    assert read(BODY, cuts) == read(BODY)


def test_a_record_too_long_is_named_by_its_line_whatever_the_pieces():
    body = b"phone,name\n+33612345678,Ada\n+33612345679,\"never closed" + b"x" * 70_000
    for cuts in ([], [4096], list(range(0, len(body), 4096))):
        with pytest.raises(errors.ValidationError) as caught:
            read(body, cuts)
        assert caught.value.message.startswith("line 3: a record longer than 65536 characters")
