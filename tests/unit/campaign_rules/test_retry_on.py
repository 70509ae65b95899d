"""retryStrategy.retryOn: which outcomes a strategy retries (all four by default), its checks, and
its stored form (absent when not given, so strategies stored before it read the same)."""

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as s

from campaign_rules import retry
from campaign_rules.proto import RetryOutcomesMessage as Outcomes
from campaign_rules.proto import RetryStrategyMessage as Message
from campaign_rules.retry import RETRY_ON, RetryStrategy, retries_outcome
from kernel.errors import ValidationError

OTHER_OUTCOMES = ["answered", "invalid_number", "unknown", "rejected", "not_placed", "BUSY", ""]
subsets = s.lists(s.sampled_from(RETRY_ON), min_size=1, max_size=4, unique=True)
kinds = s.sampled_from([retry.FIXED_DELAY, retry.SCHEDULED])


def message(kind: str, outcomes: list[str] | None) -> Message:
    out = Message(type=kind, delay_minutes=30, max_retries=2, retry_dates=["2026-01-01T09:00:00Z"])
    if outcomes is not None:
        out.retry_on.CopyFrom(Outcomes(outcomes=outcomes))
    return out


def refused(kind: str, outcomes: list[str]) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        retry.from_proto(message(kind, outcomes))
    return err.value


@given(kinds)
def test_not_given_retries_all_four_and_is_not_stored(kind):
    strategy = retry.from_proto(message(kind, None))
    assert strategy.retry_on is None and strategy.retried_outcomes == RETRY_ON
    assert "retryOn" not in retry.to_json(strategy)
    assert all(retries_outcome(strategy, outcome) for outcome in RETRY_ON)
    assert not any(retries_outcome(strategy, outcome) for outcome in OTHER_OUTCOMES)


@given(kinds, subsets)
def test_a_subset_is_kept_in_its_order_and_decides(kind, outcomes):
    strategy = retry.from_proto(message(kind, outcomes))
    assert strategy.retry_on == tuple(outcomes)
    assert retry.to_json(strategy)["retryOn"] == outcomes
    for outcome in [*RETRY_ON, *OTHER_OUTCOMES]:
        assert retries_outcome(strategy, outcome) == (outcome in outcomes)


@given(kinds, s.one_of(s.none(), subsets))
def test_one_stored_form(kind, outcomes):
    strategy = retry.from_proto(message(kind, outcomes))
    assert retry.from_json(retry.to_json(strategy)) == strategy
    assert retry.from_proto(retry.to_proto(strategy)) == strategy
    assert retry.from_json(json_format.MessageToDict(retry.to_proto(strategy))) == strategy


@given(kinds)
def test_an_empty_list_is_refused(kind):
    err = refused(kind, [])
    assert str(err) == ("retryStrategy.retryOn: must name at least one of busy, no_answer, failed, voicemail "
                        "(type none never retries)")


@pytest.mark.parametrize("other", OTHER_OUTCOMES)
def test_other_outcomes_are_refused(other):
    err = refused(retry.FIXED_DELAY, ["busy", other])
    assert str(err) == "retryStrategy.retryOn[1]: must be one of busy, no_answer, failed, voicemail"
    assert err.field == "retryStrategy.retryOn[1]"


def test_duplicates_are_refused():
    err = refused(retry.SCHEDULED, ["no_answer", "busy", "no_answer"])
    assert str(err) == "retryStrategy.retryOn[2]: duplicate outcome 'no_answer'"


def test_the_strategys_own_fields_are_checked_first():
    bad = message(retry.FIXED_DELAY, [])
    bad.delay_minutes = 0
    with pytest.raises(ValidationError, match=r"^retryStrategy\.delayMinutes:"):
        retry.from_proto(bad)


@given(s.one_of(s.none(), subsets))
def test_none_retries_nothing_and_keeps_only_its_type(outcomes):
    strategy = retry.from_proto(message(retry.NONE, outcomes))
    assert strategy == RetryStrategy() and retry.to_json(strategy) == {"type": "none"}
    assert not any(retries_outcome(strategy, outcome) for outcome in RETRY_ON)
