import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.dialer.domain.sim_rules import OUTCOMES, RulesError, parse_rules

RULES = {
    "default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": []},
    "rules": [
        {"match": "^\\+2126000001", "outcomes": ["busy", "no_answer", "answered"], "ringSeconds": 10,
         "talkSeconds": 90, "digits": ["1"]},
        {"match": "99$", "outcomes": ["voicemail"]},
    ],
}


def test_built_in_default_answers_everything():
    plan = parse_rules(None).plan("+212611111111", 1)
    assert (plan.outcome, plan.ring_seconds, plan.talk_seconds, plan.digits) == ("answered", 5, 30, ())


def test_first_matching_rule_wins_and_omitted_fields_come_from_default():
    rules = parse_rules(RULES)
    assert rules.plan("+212600000199", 1).outcome == "busy"  # both rules match; the first wins
    plan = rules.plan("+212611111199", 1)
    assert (plan.outcome, plan.ring_seconds, plan.talk_seconds) == ("voicemail", 5, 0)


def test_outcome_by_attempt_number_sticks_to_the_last():
    rules = parse_rules(RULES)
    assert [rules.plan("+212600000101", n).outcome for n in (1, 2, 3, 4, 9)] == [
        "busy", "no_answer", "answered", "answered", "answered"]
    answered = rules.plan("+212600000101", 3)
    assert (answered.talk_seconds, answered.digits) == (90, ("1",))
    assert rules.plan("+212600000101", 1).talk_seconds == 0


def test_match_is_a_search_not_a_full_match():
    rules = parse_rules({"rules": [{"match": "777", "outcomes": ["failed"]}]})
    assert rules.plan("+212677712345", 1).outcome == "failed"
    assert rules.plan("+212600000000", 1).outcome == "answered"


def test_invalid_number_is_a_simulated_outcome_and_never_talks():
    rules = parse_rules({"rules": [{"match": "404$", "outcomes": ["invalid_number"], "talkSeconds": 60,
                                    "digits": ["1"]}]})
    plan = rules.plan("+212600000404", 2)
    assert (plan.outcome, plan.answered, plan.talk_seconds, plan.digits) == ("invalid_number", False, 0, ())


@pytest.mark.parametrize("raw", [
    {"default": {"outcomes": ["ringing"]}},
    {"default": {"outcomes": []}},
    {"rules": [{"outcomes": ["busy"]}]},
    {"rules": [{"match": "("}]},
    {"default": {"talkSeconds": -1}},
    {"rules": "x"},
])
def test_bad_rules_are_refused(raw):
    with pytest.raises(RulesError):
        parse_rules(raw)


@given(st.lists(st.sampled_from(OUTCOMES), min_size=1, max_size=5), st.integers(1, 20),
       st.integers(0, 600), st.integers(0, 600))
def test_attempt_n_gets_outcome_min_n_len(outcomes, attempt, ring, talk):
    rules = parse_rules({"default": {"outcomes": outcomes, "ringSeconds": ring, "talkSeconds": talk}})
    plan = rules.plan("+212600000000", attempt)
    assert plan.outcome == outcomes[min(attempt, len(outcomes)) - 1]
    assert plan.ring_seconds == ring
    assert plan.talk_seconds == (talk if plan.outcome == "answered" else 0)
