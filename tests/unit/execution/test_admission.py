from hypothesis import given
from hypothesis import strategies as st

from services.execution.domain.admission import dispatch_budget


def test_room_under_the_limit_is_the_budget():
    assert dispatch_budget(500, 4_900, 5_000) == 100
    assert dispatch_budget(500, 0, 5_000) == 500
    assert dispatch_budget(500, 5_000, 5_000) == 0
    assert dispatch_budget(500, 7_000, 5_000) == 0


def test_unknown_backlog_or_no_limit_limits_nothing():
    assert dispatch_budget(500, None, 5_000) == 500
    assert dispatch_budget(500, 10**6, 0) == 500


@given(batch=st.integers(0, 10_000), backlog=st.integers(0, 10**6), limit=st.integers(1, 10**6))
def test_the_queue_never_passes_the_limit(batch, backlog, limit):
    budget = dispatch_budget(batch, backlog, limit)
    assert 0 <= budget <= batch
    assert backlog + budget <= max(limit, backlog)  # adds nothing once at or over the limit
    if backlog < limit:
        assert budget == min(batch, limit - backlog)
