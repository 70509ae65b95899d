from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from services.dialer.domain.billing import billable_minutes, reservation_id
from services.dialer.domain.did_choice import DidInfo, choose_did, preferred_group, rotation

MA1 = DidInfo("ma1", "+212500000001", "MA")
MA2 = DidInfo("ma2", "+212500000002", "MA")
FR1 = DidInfo("fr1", "+33100000001", "FR")
OFF = DidInfo("off", "+212500000009", "MA", active=False)
GONE = DidInfo("gone", "+212500000008", "MA", deleted=True)


def test_round_robin_over_the_pool():
    pool = [MA1, MA2, FR1]
    picks = [choose_did(pool, "", n, {}, 10).id for n in range(6)]
    assert picks == ["ma1", "ma2", "fr1", "ma1", "ma2", "fr1"]


def test_own_country_preferred_when_any_exists():
    pool = [FR1, MA1, MA2]
    assert [choose_did(pool, "MA", n, {}, 10).id for n in range(4)] == ["ma1", "ma2", "ma1", "ma2"]
    assert [choose_did(pool, "fr", n, {}, 10).id for n in range(2)] == ["fr1", "fr1"]
    # No DID of the contact's country: the whole pool rotates.
    assert {choose_did(pool, "US", n, {}, 10).id for n in range(3)} == {"fr1", "ma1", "ma2"}


def test_inactive_and_deleted_are_skipped():
    pool = [OFF, GONE, MA1]
    assert {choose_did(pool, "MA", n, {}, 10).id for n in range(5)} == {"ma1"}
    assert choose_did([OFF, GONE], "MA", 0, {}, 10) is None
    # An inactive DID of the contact's country does not count as "one exists".
    assert choose_did([OFF, FR1], "MA", 0, {}, 10).id == "fr1"


def test_cap_skips_full_dids_and_none_when_all_full():
    pool = [MA1, MA2]
    assert choose_did(pool, "MA", 0, {"ma1": 2}, 2).id == "ma2"
    assert choose_did(pool, "MA", 0, {"ma1": 2, "ma2": 2}, 2) is None


def test_groups_have_their_own_keys():
    assert preferred_group([MA1, FR1], "ma")[0] == "MA"
    assert preferred_group([MA1, FR1], "US")[0] == "*"


dids = st.lists(
    st.builds(DidInfo, id=st.sampled_from([f"d{i}" for i in range(6)]), number=st.just("+212500000000"),
              country=st.sampled_from(["MA", "FR", "US"]), active=st.booleans(), deleted=st.booleans()),
    max_size=6, unique_by=lambda d: d.id)


@given(dids, st.sampled_from(["MA", "FR", "US", ""]), st.integers(0, 1000),
       st.dictionaries(st.sampled_from([f"d{i}" for i in range(6)]), st.integers(0, 4)), st.integers(1, 3))
def test_choice_is_usable_preferred_and_under_cap(pool, country, counter, in_use, cap):
    chosen = choose_did(pool, country, counter, in_use, cap)
    usable = [d for d in pool if d.usable]
    local = [d for d in usable if d.country == country]
    candidates = local or usable
    if chosen is None:
        assert all(in_use.get(d.id, 0) >= cap for d in candidates)
        return
    assert chosen.usable
    assert in_use.get(chosen.id, 0) < cap
    if local:
        assert chosen.country == country


@given(st.integers(1, 6), st.integers(0, 100), st.integers(1, 5))
def test_rotation_is_fair(n, start, rounds):
    pool = [DidInfo(f"d{i}", "+212500000000", "MA") for i in range(n)]
    picks = Counter(choose_did(pool, "MA", start + k, {}, 1).id for k in range(n * rounds))
    assert set(picks.values()) == {rounds}
    assert rotation(pool, start)[0] == pool[start % n]


def test_billing_per_started_minute():
    assert billable_minutes(True, 0) == 0
    assert billable_minutes(True, 1) == 1
    assert billable_minutes(True, 60) == 1
    assert billable_minutes(True, 61) == 2
    assert billable_minutes(False, 300) == 0


def test_each_try_after_a_rejection_reserves_under_a_fresh_id():
    assert reservation_id("e:c:1", 0) == "e:c:1"
    assert reservation_id("e:c:1", 2) == "e:c:1:2"
