"""Reading numbers out of a CSV upload piece by piece (gateway.dnc_csv)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dnc_csv import CsvNumbers
from kernel import errors


def read(data: bytes, cuts: list[int] | None = None, **options) -> list[tuple[int, str]]:
    """(line, cell) of every record, the body fed in pieces cut at `cuts` (one piece when None)."""
    parser = CsvNumbers(**options)
    bounds = [0, *sorted(set(cuts or [])), len(data)]
    cells, lines = [], []
    for start, end in zip(bounds, bounds[1:], strict=False):
        more, at = parser.feed(data[start:end])
        cells += more
        lines += at
    more, at = parser.close()
    return list(zip(lines + at, cells + more, strict=True))


def test_one_number_per_line():
    assert read(b"+33612345678\n+33612345679\n") == [(1, "+33612345678"), (2, "+33612345679")]


def test_last_line_without_line_end():
    assert read(b"+33612345678\n+33612345679") == [(1, "+33612345678"), (2, "+33612345679")]


def test_header_names_the_phone_column_and_other_columns_are_ignored():
    body = b"Name,PHONE ,city\nJohn,+33612345678,Paris\nShort\n,+33612345679\n"
    assert read(body) == [(2, "+33612345678"), (3, ""), (4, "+33612345679")]


def test_without_header_the_first_column_is_the_number():
    assert read(b"+33612345678,John\n") == [(1, "+33612345678")]
    assert read(b"number,name\n+33612345678,John\n") == [(1, "number"), (2, "+33612345678")]


def test_byte_order_mark_is_dropped():
    assert read(b"\xef\xbb\xbfphone\n+33612345678\n") == [(2, "+33612345678")]
    assert read(b"\xef\xbb\xbf+33612345678\n", cuts=[1, 2]) == [(1, "+33612345678")]


def test_blank_lines_are_skipped_but_counted():
    body = b"\n\nphone\n\n+33612345678\n \n,,\n+33612345679\n\n"
    assert read(body) == [(5, "+33612345678"), (8, "+33612345679")]


def test_crlf_and_cr_line_ends():
    assert read(b"phone\r\n+33612345678\r\n\r\n+33612345679\r\n") == [(2, "+33612345678"), (4, "+33612345679")]
    assert read(b"+33612345678\r+33612345679\r") == [(1, "+33612345678"), (2, "+33612345679")]
    # A CR at the end of a piece waits for the next: a CRLF cut in two is one line end.
    assert read(b"+33612345678\r\n+33612345679\r\n", cuts=[13]) == [(1, "+33612345678"), (2, "+33612345679")]


def test_quoted_fields_even_across_lines_and_pieces():
    body = b'name,phone\n"Doe, John","+33 6 12 34 56 78"\n"two\nlines ""quoted""",+33612345679\n+33612345670,x\n'
    expected = [(2, "+33 6 12 34 56 78"), (3, "+33612345679"), (5, "x")]
    assert read(body) == expected
    for cut in range(1, len(body)):
        assert read(body, cuts=[cut]) == expected


def test_semicolon_or_tab_delimited_files():
    assert read(b"nom;phone\nJean;+33612345678\n") == [(2, "+33612345678")]
    assert read(b"phone\tname\n+33612345678\tJean\n") == [(2, "+33612345678")]


def test_bytes_that_are_not_utf8_make_an_invalid_cell_not_a_failure():
    assert read(b"+3361234\xff5678\n+33612345679\n") == [(1, "+3361234\ufffd5678"), (2, "+33612345679")]


def test_empty_bodies():
    assert read(b"") == []
    assert read(b"phone\n") == []
    assert read(b"\n\n") == []


def test_a_quote_never_closed_is_refused_once_past_the_record_limit():
    with pytest.raises(errors.ValidationError, match=r"^line 2: a record longer than 100 characters"):
        read(b'+33612345678\n"' + b"+33612345679\n" * 20, cuts=list(range(0, 300, 10)), max_record_chars=100)
    # Named by its own line also when the body comes whole, its earlier records in the same piece.
    with pytest.raises(errors.ValidationError, match=r"^line 2: a record longer than 100 characters"):
        read(b'+33612345678\n"' + b"+33612345679\n" * 20, max_record_chars=100)
    # Within the limit it runs to the end of the file, as the csv module reads it.
    assert read(b'+33612345678\n"+33612345679\n') == [(1, "+33612345678"), (2, "+33612345679\n")]


cells = st.one_of(st.sampled_from(["+33612345678", "", " +1 650 253 0000 ", "bad"]),
                  st.text(alphabet='+0123456789 ,;"\n\r\tab', max_size=15))


@given(st.lists(st.lists(cells, min_size=1, max_size=3), max_size=15), st.booleans(), st.lists(st.integers(0, 400)),
       st.sampled_from(["\n", "\r\n"]))
def test_pieces_never_change_what_is_read(rows, header, cuts, newline):
    import csv
    import io

    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline)
    if header:
        writer.writerow(["phone", "other"])
    writer.writerows(rows)
    body = out.getvalue().encode()
    whole = read(body)
    assert read(body, cuts=[c for c in cuts if c < len(body)]) == whole
    assert read(body, cuts=list(range(1, len(body)))) == whole


def test_blank_lines_first_decide_no_delimiter_whatever_the_pieces():
    # A piece ending after a lone CR completes a blank line only: the delimiter waits for ";".
    body = b"\r;\n+33612345678;x\n"
    assert read(body) == read(body, cuts=list(range(1, len(body)))) == [(3, "+33612345678")]
