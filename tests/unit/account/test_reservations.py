from hypothesis import given
from hypothesis import strategies as st

from services.account.domain import reservations
from services.account.domain.credits import Balance

amounts = st.integers(min_value=0, max_value=10_000)


def test_only_a_held_reservation_changes_and_only_once():
    assert reservations.sources(reservations.SETTLED) == (reservations.HELD,)
    assert reservations.sources(reservations.RELEASED) == (reservations.HELD,)
    for state in (reservations.REFUSED, reservations.SETTLED, reservations.RELEASED):
        assert not reservations.TRANSITIONS[state]
    assert set(reservations.TRANSITIONS) == set(reservations.ALL)


@given(amounts, amounts, amounts)
def test_reserve_holds_exactly_what_is_available(balance, reserved, amount):
    credits = Balance(balance + reserved, reserved)
    opening = reservations.open_reservation(credits, amount)
    if amount <= balance:
        assert opening.state == reservations.HELD and opening.answer.reserved
        assert opening.credits == Balance(credits.balance, reserved + amount)
    else:
        assert opening.state == reservations.REFUSED and not opening.answer.reserved
        assert opening.credits == credits
    assert opening.credits.available >= 0


@given(amounts, amounts, amounts, amounts)
def test_settle_gives_back_the_hold_and_never_overdraws(free, others, held, requested):
    credits = Balance(free + others + held, others + held)
    settlement = reservations.settle(credits, held, requested)
    assert settlement.credits.reserved == others
    assert settlement.credits.available >= 0 and settlement.credits.balance >= 0
    assert settlement.charged == min(requested, free + held)
    assert reservations.release(credits, held) == Balance(credits.balance, others)
