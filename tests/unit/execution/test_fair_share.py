"""Weighted fair share: the budget goes, unit by unit, to the organization with the lowest
(holding + given) / weight that still wants more, and inside it to the execution with the lowest
holding + given. Checked against a literal unit-by-unit reference, and by its properties."""

import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as s

from services.execution.domain.fair_share import Claimant, OrganizationShare, allocate

ORGS = ["o1", "o2", "o3", "o4"]


def reference(budget, claimants, organizations):
    """The rule as written, one unit at a time with linear scans: slow but plainly right."""
    demand = {c.execution_id: max(0, c.demand) for c in claimants}
    holding = {c.execution_id: c.holding for c in claimants}
    members = {}
    for c in claimants:
        members.setdefault(c.organization_id, []).append(c.execution_id)
    shares = {o: organizations.get(o, OrganizationShare(sum(holding[e] for e in es)))
              for o, es in members.items()}
    room = {o: None if sh.room is None else max(0, sh.room) for o, sh in shares.items()}
    g_org = dict.fromkeys(members, 0)
    g = dict.fromkeys(demand, 0)

    def wants(o):
        return sum(demand[e] - g[e] for e in members[o]) > 0 and (room[o] is None or g_org[o] < room[o])

    for _ in range(max(0, budget)):
        open_orgs = [o for o in members if wants(o)]
        if not open_orgs:
            break
        o = min(open_orgs, key=lambda o: (Fraction(shares[o].holding + g_org[o], shares[o].weight), o))
        e = min((e for e in members[o] if g[e] < demand[e]), key=lambda e: (holding[e] + g[e], e))
        g_org[o] += 1
        g[e] += 1
    return {e: n for e, n in g.items() if n > 0}


@s.composite
def situations(draw):
    n = draw(s.integers(0, 12))
    claimants = [Claimant(f"e{i:02d}", draw(s.sampled_from(ORGS)), demand=draw(s.integers(0, 15)),
                          holding=draw(s.integers(0, 10))) for i in range(n)]
    organizations = {}
    for org in draw(s.lists(s.sampled_from(ORGS), unique=True)):  # the others are missing
        held = sum(c.holding for c in claimants if c.organization_id == org)
        organizations[org] = OrganizationShare(held + draw(s.integers(0, 20)), draw(s.integers(1, 12)),
                                               draw(s.none() | s.integers(0, 20)))
    return draw(s.integers(-3, 80)), claimants, organizations


def org_view(claimants, organizations):
    """organization -> (holding, weight, cap): cap is what it can take in all (demand within room)."""
    view = {}
    for org in {c.organization_id for c in claimants}:
        mine = [c for c in claimants if c.organization_id == org]
        share = organizations.get(org, OrganizationShare(sum(c.holding for c in mine)))
        wanted = sum(c.demand for c in mine)
        cap = wanted if share.room is None else min(wanted, max(0, share.room))
        view[org] = (share.holding, share.weight, cap)
    return view


def per_organization(result, claimants):
    got = {c.organization_id: 0 for c in claimants}
    for c in claimants:
        got[c.organization_id] += result.get(c.execution_id, 0)
    return got


@given(situations())
def test_same_as_the_rule_given_one_unit_at_a_time(situation):
    assert allocate(*situation) == reference(*situation)


@given(situations(), s.randoms(use_true_random=False))
def test_the_order_of_the_claimants_changes_nothing(situation, rnd):
    budget, claimants, organizations = situation
    shuffled = list(claimants)
    rnd.shuffle(shuffled)
    assert allocate(budget, shuffled, organizations) == allocate(budget, claimants, organizations)


@given(situations())
def test_totals_caps_and_room(situation):
    budget, claimants, organizations = situation
    result = allocate(budget, claimants, organizations)
    demand = {c.execution_id: c.demand for c in claimants}
    assert all(0 < n <= demand[e] for e, n in result.items())
    view = org_view(claimants, organizations)
    got = per_organization(result, claimants)
    assert all(got[org] <= cap for org, (_, _, cap) in view.items())
    assert sum(result.values()) == max(0, min(budget, sum(cap for _, _, cap in view.values())))


@given(situations())
def test_no_organization_envies_another_by_more_than_one_unit(situation):
    """For j given > 0 and i still wanting more: (h_i + g_i) / w_i >= (h_j + g_j - 1) / w_j."""
    budget, claimants, organizations = situation
    result = allocate(budget, claimants, organizations)
    view = org_view(claimants, organizations)
    got = per_organization(result, claimants)
    for j, (h_j, w_j, _) in view.items():
        if got[j] == 0:
            continue
        for i, (h_i, w_i, cap_i) in view.items():
            if got[i] < cap_i:
                assert (h_i + got[i]) * w_j >= (h_j + got[j] - 1) * w_i


@given(situations())
def test_no_execution_envies_another_of_its_organization_by_more_than_one_unit(situation):
    """Inside an organization, weights 1: for b given > 0 and a with demand left,
    h_a + g_a >= h_b + g_b - 1."""
    budget, claimants, organizations = situation
    result = allocate(budget, claimants, organizations)
    for b in claimants:
        g_b = result.get(b.execution_id, 0)
        if g_b == 0:
            continue
        for a in claimants:
            g_a = result.get(a.execution_id, 0)
            if a.organization_id == b.organization_id and g_a < a.demand:
                assert a.holding + g_a >= b.holding + g_b - 1


def test_the_idle_organization_is_served_first():
    busy = [Claimant(f"a{i}", "A", 1_000, 100) for i in range(5)]
    small = Claimant("b1", "B", 20, 0)
    organizations = {"A": OrganizationShare(500), "B": OrganizationShare(0)}
    result = allocate(30, [*busy, small], organizations)
    assert result["b1"] == 20
    assert sum(result.values()) == 30
    assert allocate(15, [*busy, small], organizations) == {"b1": 15}


def test_weights_two_to_one_split_the_budget_two_to_one():
    claimants = [Claimant("a1", "A", 1_000, 0), Claimant("b1", "B", 1_000, 0)]
    organizations = {"A": OrganizationShare(0, weight=2), "B": OrganizationShare(0, weight=1)}
    assert allocate(300, claimants, organizations) == {"a1": 200, "b1": 100}
    # From unequal holdings, the levels meet first, then split 2:1: A (60 + 180) / 2 = B 0 + 120.
    organizations = {"A": OrganizationShare(60, weight=2), "B": OrganizationShare(0, weight=1)}
    assert allocate(300, claimants, organizations) == {"a1": 180, "b1": 120}


def test_room_caps_an_organization_and_the_rest_goes_to_the_others():
    claimants = [Claimant("a1", "A", 100, 0), Claimant("a2", "A", 100, 0), Claimant("b1", "B", 100, 50)]
    organizations = {"A": OrganizationShare(0, room=7), "B": OrganizationShare(50)}
    result = allocate(40, claimants, organizations)
    assert result == {"a1": 4, "a2": 3, "b1": 33}
    no_room = {"A": OrganizationShare(0, room=-5), "B": OrganizationShare(50)}
    assert allocate(40, claimants, no_room) == {"b1": 40}


def test_a_missing_organization_holds_its_claimants_calls_with_weight_one():
    claimants = [Claimant("a1", "A", 50, 30), Claimant("a2", "A", 0, 10), Claimant("b1", "B", 50, 20)]
    # A is missing: it holds 40 (a2 holds calls though it wants none), B 20 → B gets 20 first.
    assert allocate(30, claimants, {"B": OrganizationShare(20)}) == {"a1": 5, "b1": 25}
    assert allocate(30, claimants, {}) == allocate(30, claimants, {"A": OrganizationShare(40),
                                                                   "B": OrganizationShare(20)})


def test_executions_of_one_organization_fill_up_evenly():
    claimants = [Claimant("x", "A", 100, 10), Claimant("y", "A", 3, 0), Claimant("z", "A", 100, 2)]
    # y takes its 3, z rises from 2 to 10 (8), then x and z alternate from 10, x first: 5 and 4.
    assert allocate(20, claimants, {}) == {"x": 5, "y": 3, "z": 12}


def test_the_worked_example_of_the_module():
    organizations = {"A": OrganizationShare(8, weight=2), "B": OrganizationShare(0),
                     "C": OrganizationShare(1, room=2)}
    claimants = [Claimant("a1", "A", 20, 8), Claimant("b1", "B", 2, 0), Claimant("b2", "B", 9, 0),
                 Claimant("c1", "C", 9, 1)]
    assert allocate(10, claimants, organizations) == {"a1": 3, "b1": 2, "b2": 3, "c1": 2}


def test_nothing_to_give_or_nobody_wanting_gives_nothing():
    claimants = [Claimant("a1", "A", 10, 0)]
    assert allocate(0, claimants, {}) == {}
    assert allocate(-4, claimants, {}) == {}
    assert allocate(10, [], {}) == {}
    assert allocate(10, [Claimant("a1", "A", 0, 3), Claimant("a2", "A", -2, 0)], {}) == {}


def test_a_large_dispatch_matches_the_reference():
    rnd = random.Random(21)
    claimants = [Claimant(f"e{i:04d}", f"o{rnd.randrange(40):02d}", demand=rnd.randrange(0, 30),
                          holding=rnd.randrange(0, 50)) for i in range(400)]
    organizations = {f"o{k:02d}": OrganizationShare(rnd.randrange(0, 2_000), rnd.randrange(1, 6),
                                                    rnd.choice([None, rnd.randrange(0, 100)]))
                     for k in range(0, 40, 2)}
    assert allocate(2_000, claimants, organizations) == reference(2_000, claimants, organizations)


def test_a_weight_below_one_is_refused():
    with pytest.raises(ValueError):
        OrganizationShare(0, weight=0)


def test_an_execution_twice_is_refused():
    with pytest.raises(ValueError):
        allocate(5, [Claimant("a1", "A", 1, 0), Claimant("a1", "B", 1, 0)], {})
