"""Page sizes and keyset cursors shared by every list."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel import paging
from kernel.errors import ValidationError

instants = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC))


@given(instants, st.uuids(), st.text())
def test_cursor_round_trips_exactly(moment, ident, text):
    key = paging.decode(paging.encode(moment, ident, text), 3)
    assert (paging.instant(key[0]), paging.identifier(key[1]), key[2]) == (moment, str(ident), text)


def test_no_cursor_is_the_first_page():
    assert paging.decode("", 2) is None


@pytest.mark.parametrize("bad", ["not-a-cursor", paging.encode("a"), paging.encode("a", "b", "c"), "e30"])
def test_bad_cursor(bad):
    with pytest.raises(ValidationError, match="^cursor: invalid cursor"):
        paging.decode(bad, 2)


def test_bad_key_parts():
    key = paging.decode(paging.encode("yesterday", "not-a-uuid"), 2)
    with pytest.raises(ValidationError, match="^cursor: "):
        paging.instant(key[0])
    with pytest.raises(ValidationError, match="^cursor: "):
        paging.identifier(key[1])


@pytest.mark.parametrize("limit,size", [(0, 100), (1, 1), (1000, 1000)])
def test_page_sizes(limit, size):
    assert paging.page_size(limit) == size


@pytest.mark.parametrize("limit", [-1, 1001, 2**31])
def test_limits_out_of_range(limit):
    with pytest.raises(ValidationError, match="^limit: must be between 1 and 1000"):
        paging.page_size(limit)
