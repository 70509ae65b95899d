from hypothesis import given
from hypothesis import strategies as s

from services.execution.domain import contacts as ct
from services.execution.domain import status as st


def test_lifecycle_of_the_spec():
    assert st.can_transition(st.SCHEDULED, st.RUNNING)
    assert st.can_transition(st.RUNNING, st.COMPLETED)
    assert st.can_transition(st.RUNNING, st.STOPPED)
    for paused in st.PAUSED_STATES:
        assert st.can_transition(st.RUNNING, paused)
        assert st.can_transition(paused, st.RUNNING)
        assert st.can_transition(paused, st.CANCELLED)
    assert not st.can_transition(st.PAUSED, st.COMPLETED)
    assert not st.can_transition(st.SCHEDULED, st.PAUSED)


@given(s.sampled_from(st.TERMINAL), s.sampled_from(st.ALL))
def test_terminal_states_are_final(terminal, target):
    assert not st.can_transition(terminal, target)


def test_sources():
    assert set(st.sources(st.RUNNING)) == {st.SCHEDULED, *st.PAUSED_STATES}
    assert set(st.sources(st.CANCELLED)) == set(st.ACTIVE)


@given(s.integers(0, 50), s.lists(s.tuples(s.sampled_from(ct.STATES), s.sampled_from(ct.STATES)), max_size=60))
def test_counter_moves_keep_the_sum(total, moves):
    counters = dict.fromkeys(ct.COUNTER.values(), 0)
    counters["contacts_pending"] = total
    for source, target in moves:
        for column, delta in ct.counter_deltas([(source, target)]).items():
            counters[column] += delta
        assert sum(counters.values()) == total
    combined = ct.counter_deltas(moves)
    assert sum(combined.values()) == 0
