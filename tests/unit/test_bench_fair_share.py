"""Scenario 11's figures from counter samples (bench/fair_share_figures.py): rate and calls in
flight, the carrier's rules per prefix, and the results table's rows."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bench.fair_share_figures import Counts, InFlight, Sample, in_flight, rate, sim_rules
from bench.report import rows
from services.dialer.domain.sim_rules import parse_rules


def _sample(at: float, **executions: tuple[int, int, int]) -> Sample:
    """executions: id → (done, in progress, pending)."""
    return Sample(at, {e: Counts("running", d, i, p, None) for e, (d, i, p) in executions.items()})


def test_rate_counts_every_execution_between_the_nearest_samples() -> None:
    samples = [_sample(0.0, a=(0, 10, 90)), _sample(1.0, a=(100, 10, 80), b=(0, 5, 5)),
               _sample(3.0, a=(300, 10, 60), b=(50, 5, 0))]
    # From 1.0 to 3.0: a did 200, b 50.
    assert rate(samples, ["a", "b"], 0.5, 3.0) == 125.0
    # b is absent from the first sample: only a counts over 0.0-3.0.
    assert rate(samples, ["a", "b"], 0.0, 3.0) == 100.0


def test_rate_needs_two_samples_apart() -> None:
    samples = [_sample(0.0, a=(0, 0, 1)), _sample(1.0, a=(5, 0, 0))]
    assert rate(samples, ["a"], 0.5, 0.9) is None
    assert rate(samples, ["a"], 0.5, 1.0) is None


def test_in_flight_over_the_samples_that_read_the_execution() -> None:
    samples = [_sample(0.0, a=(0, 990, 10)), _sample(0.1, a=(0, 700, 10), b=(0, 100, 0)),
               _sample(0.2, a=(0, 1000, 10), b=(0, 0, 0))]
    assert in_flight(samples, "a") == InFlight(897, 700, 1000)
    assert in_flight(samples, "b") == InFlight(50, 0, 100)
    assert in_flight(samples, "c") is None


@given(st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=30))
def test_in_flight_mean_lies_between_least_and_peak(held: list[int]) -> None:
    summary = in_flight([_sample(i / 10, a=(0, h, 1)) for i, h in enumerate(held)], "a")
    assert summary is not None
    assert summary.least == min(held) and summary.peak == max(held)
    assert summary.least <= summary.mean <= summary.peak


def test_sim_rules_talk_only_on_the_timed_prefixes() -> None:
    rules = parse_rules(sim_rules(25.0, ("+2126", "+2128")))
    assert rules.plan("+212600000001", 1).talk_seconds == 25.0
    assert rules.plan("+212800000001", 1).talk_seconds == 25.0
    fast = rules.plan("+212100000001", 1)
    assert (fast.outcome, fast.ring_seconds, fast.talk_seconds) == ("answered", 0.0, 0.0)
    timed = rules.plan("+212600000001", 1)
    assert (timed.outcome, timed.ring_seconds) == ("answered", 0.0)


def test_sim_rules_without_prefixes_is_the_instant_carrier() -> None:
    raw = sim_rules(3.0)
    assert raw["rules"] == []
    assert raw["default"]["talkSeconds"] == 0


def _figures() -> dict[str, object]:
    times = {"first_call_seconds": 0.4, "first_taken_seconds": 0.3, "last_call_seconds": 0.5,
             "completed_seconds": 6.0}
    return {
        "channels": 1000, "small_program_limits": {"b": 100, "c": 250},
        "rate_phase": {"contacts": {"a": 1_000_000, "b": 100, "c": 1000}, "total_attempts_per_second_together": 1400,
                       "a_alone_attempts_per_second": 1450, "scenario_2_attempts_per_second": 1500,
                       "ratio_rate_to_scenario_2": 0.933, "ratio_a_alone_rate_to_scenario_2": 0.967},
        "timing_phase": {"contacts": {"a": 100_000, "b": 100, "c": 1000}, "talk_real_seconds": 5.0,
                         "alone": {"b": times, "c": times}, "together": {"b": times, "c": times},
                         "ratio_completed": {"b": 1.0, "c": 1.0},
                         "in_flight_peak_together": {"a": 1000, "b": 100, "c": 250},
                         "a_in_flight_before": {"mean": 998, "least": 990, "peak": 1000},
                         "a_in_flight_during": {"mean": 700, "least": 650, "peak": 1000}},
    }


def test_report_rows_show_both_phases_against_their_targets() -> None:
    table = rows({"fair_share": _figures()})
    assert [r[4] for r in table] == [">= 90 %", "", "<= 1.5 x", "<= 1.5 x"]
    assert re.search(r"1,400 attempts/s", table[0][1]) and table[0][3].startswith("93 %")
    assert "B' 100 beside A' (limit 100)" in table[2][0]
    assert "C' 1,000 beside A' (limit 250)" in table[3][0]
    assert "peak 250 in flight" in table[3][1]
