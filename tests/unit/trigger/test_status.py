"""Trigger statuses: pending fires or is cancelled, once; the SQL of every status change is
generated from the same table."""

import pytest

from services.trigger.adapters.sql import status_in
from services.trigger.domain import status as st


def test_pending_fires_or_is_cancelled_once():
    assert st.sources(st.TRIGGERED) == (st.PENDING,)
    assert st.sources(st.CANCELLED) == (st.PENDING,)
    assert st.sources(st.PENDING) == ()
    for final in (st.TRIGGERED, st.CANCELLED):
        assert not any(st.can_transition(final, target) for target in st.ALL)


def test_sql_literals_come_from_the_statuses():
    assert status_in(st.sources(st.TRIGGERED), "t.status") == "t.status = 'pending'"
    assert status_in((st.PENDING, st.TRIGGERED)) == "status IN ('pending', 'triggered')"
    with pytest.raises(ValueError):
        status_in(("fired",))
    with pytest.raises(ValueError):
        status_in(())
