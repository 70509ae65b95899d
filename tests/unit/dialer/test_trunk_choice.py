"""Trunk choice: in configuration order, the trunks that take the number's country and are not
skipped; a failing trunk is skipped for 30 s."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.dialer.domain.trunk_choice import (
    SKIP_SECONDS,
    Skips,
    candidates,
    country_of,
    serving,
    skips_trunk,
)
from services.dialer.domain.trunks import Trunk


def trunk(name: str, countries: set[str] | None = None) -> Trunk:
    return Trunk(name, "192.0.2.1", 5060, "udp", None, None, 10, 10,
                 frozenset(countries) if countries is not None else None)


MA = trunk("ma", {"MA"})
EU = trunk("eu", {"FR", "BE"})
ANY = trunk("any")


def test_country_of_the_number():
    assert country_of("+212600000001") == "MA"
    assert country_of("+33612345678") == "FR"
    assert country_of("+14155550100") == "US"
    assert country_of("+80012345678") is None  # non-geographic
    assert country_of("not a number") is None


def test_first_trunks_that_take_the_country_in_order():
    trunks = [MA, EU, ANY]
    assert candidates(trunks, "MA", Skips(), 0) == (MA, ANY)
    assert candidates(trunks, "BE", Skips(), 0) == (EU, ANY)
    assert candidates(trunks, "US", Skips(), 0) == (ANY,)
    assert candidates(trunks, None, Skips(), 0) == (ANY,)
    assert candidates([MA, EU], "US", Skips(), 0) == () == serving([MA, EU], "US")


def test_a_skipped_trunk_comes_back_after_30_seconds():
    trunks = [MA, ANY]
    skips = Skips().skip("ma", now=100.0)
    assert candidates(trunks, "MA", skips, 100.0) == (ANY,)
    assert candidates(trunks, "MA", skips, 100.0 + SKIP_SECONDS - 0.001) == (ANY,)
    assert candidates(trunks, "MA", skips, 100.0 + SKIP_SECONDS) == (MA, ANY)
    # Every serving trunk skipped: nothing to try now, but the country is still served (wait).
    both = skips.skip("any", now=101.0)
    assert candidates(trunks, "MA", both, 110.0) == () and serving(trunks, "MA") == (MA, ANY)
    # Skipping again extends; ended skips are dropped from the value.
    assert both.skip("ma", now=125.0).is_skipped("ma", 150.0)
    assert "ma" not in Skips().skip("ma", 0).skip("any", SKIP_SECONDS + 1).until


def test_which_failures_skip_the_trunk():
    assert skips_trunk(503)
    assert skips_trunk(None)  # no response at all
    assert skips_trunk(None, transport_error=True) and skips_trunk(200, transport_error=True)
    for status in (200, 404, 408, 480, 486, 487, 500, 603):
        assert not skips_trunk(status)


COUNTRIES = ["MA", "FR", "BE", "US"]
trunk_lists = st.lists(
    st.builds(lambda n, c: (n, c), st.integers(0, 5), st.none() | st.sets(st.sampled_from(COUNTRIES), min_size=1)),
    max_size=6, unique_by=lambda t: t[0],
).map(lambda items: [trunk(f"t{n}", c) for n, c in items])


@given(trunk_lists, st.none() | st.sampled_from([*COUNTRIES, "DE"]),
       st.lists(st.tuples(st.integers(0, 5), st.floats(0, 100)), max_size=8), st.floats(0, 60))
def test_candidates_are_the_ordered_subset_that_accept_and_are_not_skipped(trunks, country, events, later):
    skips = Skips()
    last: dict[str, float] = {}
    for n, at in sorted(events, key=lambda e: e[1]):
        skips = skips.skip(f"t{n}", at)
        last[f"t{n}"] = at
    now = max(last.values(), default=0.0) + later
    got = candidates(trunks, country, skips, now)
    expected = [t for t in trunks
                if (t.countries is None or country in t.countries)
                and not (t.name in last and now < last[t.name] + SKIP_SECONDS)]
    assert list(got) == expected
    # An order-preserving subsequence of the configuration.
    positions = [trunks.index(t) for t in got]
    assert positions == sorted(positions)
