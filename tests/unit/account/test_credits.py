from hypothesis import given
from hypothesis import strategies as st

from services.account.domain.credits import Balance, settle_charge

amounts = st.integers(min_value=0, max_value=10**6)


@given(requested=amounts, balance=amounts, others=amounts, held=amounts)
def test_settlement_never_overdraws(requested, balance, others, held):
    reserved = others + held
    if balance - reserved < 0:  # the invariant the database keeps
        return
    charge = settle_charge(requested, balance, reserved, held)
    assert 0 <= charge <= requested
    after = Balance(balance - charge, reserved - held)
    assert after.balance >= 0 and after.available >= 0
    # It charges in full whenever that is affordable.
    if requested <= balance - others:
        assert charge == requested


def test_available():
    assert Balance(10, 4).available == 6
