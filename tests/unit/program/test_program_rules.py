"""The whole pure check of a program and PATCH merging. The campaign rules themselves are tested
in tests/unit/campaign_rules; here, that a program checks them in the order of its fields."""

import uuid
from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign_rules.auto_pause import AutoPauseRule
from campaign_rules.pause_windows import AbsoluteWindow, WeeklyWindow
from campaign_rules.proto import AutoPauseRuleMessage as RuleMessage
from campaign_rules.proto import AutoPauseRulesMessage as RulesMessage
from campaign_rules.proto import PauseWindowAdvancedItemMessage as Advanced
from campaign_rules.proto import PauseWindowItemMessage as Item
from campaign_rules.proto import PauseWindowsMessage as Windows
from campaign_rules.proto import RetryStrategyMessage as Retry
from campaign_rules.proto import TimeOfDayMessage as TimeOfDay
from campaign_rules.proto import TriggerConditionMessage as Condition
from campaign_rules.proto import TriggerOffsetMessage as Offset
from campaign_rules.retry import RetryStrategy
from campaign_rules.trigger_condition import Offset as TriggerOffset
from campaign_rules.trigger_condition import TriggerCondition
from kernel.errors import ValidationError
from services.program.domain import status
from services.program.domain.model import ProgramDraft
from services.program.domain.patch import apply_patch, draft_of
from services.program.domain.validation import check_program, check_rule_nodes, check_trigger_attribute

FLOW = str(uuid.uuid4())
AUDIENCE = str(uuid.uuid4())
DIDS = (str(uuid.uuid4()), str(uuid.uuid4()))
LIVE = Condition(type="date", attribute_name="due", direction="before", offset=Offset(days=2, hours=15))
NONE = Retry(type="none")


def batch(**kw) -> ProgramDraft:
    base = dict(name="Holiday", audience_id=AUDIENCE, flow_id=FLOW, start_at="2025-12-20T09:00:00Z",
                stop_at="2025-12-20T18:00:00Z", did_pool=DIDS, retry_strategy=NONE)
    base.update(kw)
    return ProgramDraft(**base)


def refused(draft: ProgramDraft) -> str:
    with pytest.raises(ValidationError) as err:
        check_program(draft)
    return str(err.value)


def rules(*pairs: tuple[str, int]) -> RulesMessage:
    return RulesMessage(rules=[RuleMessage(node_id=n, threshold=t) for n, t in pairs])


def test_batch_defaults():
    spec = check_program(batch())
    assert spec.mode == "batch" and spec.timezone == "UTC" and spec.max_concurrent_calls == 10
    assert spec.start_at == datetime(2025, 12, 20, 9, tzinfo=UTC)
    assert spec.trigger_condition is None and spec.pause_windows is None and spec.auto_pause_rules is None
    assert spec.retry_strategy == RetryStrategy("none")


def test_mode_rules():
    assert refused(batch(audience_id="")) == "audienceId: is required for batch programs"
    assert refused(batch(trigger_condition=LIVE)) == "triggerCondition: must not be set for batch programs"
    assert refused(batch(mode="live")) == "triggerCondition: is required for live programs"
    assert refused(batch(mode="hybrid")).startswith("mode: ")
    live = check_program(batch(mode="live", audience_id="", trigger_condition=LIVE))
    assert live.audience_id is None and live.trigger_condition == TriggerCondition("due", "before",
                                                                                   TriggerOffset(2, 15, 0))


@pytest.mark.parametrize(("change", "message"), [
    ({"name": ""}, "name: must not be empty"),
    ({"name": "x" * 201}, "name: must be at most 200 characters"),
    ({"flow_id": ""}, "flowId: is required"),
    ({"flow_id": "flow-1"}, "flowId: must be a UUID"),
    ({"audience_id": "a"}, "audienceId: must be a UUID"),
    ({"start_at": ""}, "startAt: is required"),
    ({"start_at": "tomorrow"}, "startAt: must be an ISO 8601 date-time"),
    ({"start_at": "0999-01-01T00:00:00Z"}, "startAt: must be between 1900-01-01 and 2999-12-31"),
    ({"stop_at": "2025-12-20T09:00:00Z"}, "stopAt: must be after startAt"),
    ({"did_pool": ()}, "didPool: at least one DID is required"),
    ({"did_pool": (DIDS[0], DIDS[0])}, "didPool[1]: duplicate DID id"),
    ({"did_pool": ("nope",)}, "didPool[0]: must be a UUID"),
    ({"retry_strategy": None}, "retryStrategy: is required"),
    ({"retry_strategy": Retry(type="fixed_delay")}, "retryStrategy.delayMinutes: must be between 1 and 10080"),
    ({"pause_windows": Windows(monday=[Item(start_at=TimeOfDay(hour=9), end_at=TimeOfDay(hour=9))])},
     "pauseWindows.monday[0].endAt: must differ from startAt"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown IANA time zone 'Mars/Olympus'"),
    ({"max_concurrent_calls": 0}, "maxConcurrentCalls: must be between 1 and 1000"),
    ({"max_concurrent_calls": 1001}, "maxConcurrentCalls: must be between 1 and 1000"),
    ({"auto_pause_rules": rules(("a", 0))}, "autoPauseRules[0].threshold: must be at least 1"),
    ({"auto_pause_rules": rules(("a", 1), ("a", 2))}, "autoPauseRules[1].nodeId: another rule already counts node 'a'"),
])
def test_each_rule_names_its_field(change, message):
    assert refused(batch(**change)) == message


def test_failures_come_in_the_order_of_the_request_fields():
    bad_rules = rules(("a", 0))
    bad_windows = Windows(advanced=[Advanced(start_at="later", end_at="")])
    assert refused(batch(retry_strategy=Retry(type="x"), pause_windows=bad_windows, auto_pause_rules=bad_rules,
                         timezone="Nowhere")).startswith("retryStrategy.type: ")
    assert refused(batch(pause_windows=bad_windows, auto_pause_rules=bad_rules)).startswith("pauseWindows.")
    assert refused(batch(name="", retry_strategy=None)) == "name: must not be empty"
    live = batch(mode="live", audience_id="", trigger_condition=Condition(type="date", attribute_name="due",
                                                                           direction="around"))
    assert refused(live) == "triggerCondition.direction: must be before or after"
    assert refused(batch(mode="live", audience_id="", trigger_condition=LIVE, flow_id="")) == "flowId: is required"


def test_references_to_other_contexts():
    check_rule_nodes((AutoPauseRule("menu", 3),), ["welcome", "menu"])
    with pytest.raises(ValidationError, match=r"^autoPauseRules\[0\]\.nodeId: node 'x' is not in"):
        check_rule_nodes((AutoPauseRule("x", 3),), ["welcome"])
    condition = TriggerCondition("due", "before")
    check_trigger_attribute(condition, {"due": "date"})
    with pytest.raises(ValidationError, match=r"^triggerCondition\.attributeName: no custom attribute 'due'"):
        check_trigger_attribute(condition, {})


def test_patch_changes_only_masked_fields_and_revalidates():
    current = draft_of(check_program(batch(stop_at="2025-12-21T00:00:00Z")))
    merged, changed = apply_patch(current, ProgramDraft(name="New", stop_at="2025-12-19T00:00:00Z"), ["name"])
    assert merged.name == "New" and merged.stop_at == current.stop_at and changed == {"name"}
    cleared, _ = apply_patch(current, ProgramDraft(), ["stopAt", "pauseWindows"])
    assert check_program(cleared).stop_at is None
    moved, _ = apply_patch(current, ProgramDraft(start_at="2025-12-22T00:00:00Z"), ["startAt"])
    assert refused(moved) == "stopAt: must be after startAt"
    with pytest.raises(ValidationError, match="^mode: cannot be changed"):
        apply_patch(current, ProgramDraft(mode="live"), ["mode"])
    with pytest.raises(ValidationError, match="^status: "):
        apply_patch(current, ProgramDraft(), ["status"])
    with pytest.raises(ValidationError, match="^audienceId: must not be empty"):
        apply_patch(current, ProgramDraft(), ["audienceId"])


def test_an_unmasked_field_of_the_patch_is_not_checked():
    current = draft_of(check_program(batch()))
    merged, _ = apply_patch(current, ProgramDraft(name="New", retry_strategy=Retry(type="exponential")), ["name"])
    assert check_program(merged).retry_strategy == RetryStrategy("none")


times = st.builds(TimeOfDay, hour=st.integers(0, 23), minute=st.integers(0, 59))


@given(st.lists(st.builds(Item, start_at=times, end_at=times), max_size=3), st.integers(1, 10080),
       st.integers(0, 20), st.booleans())
def test_a_stored_program_is_checked_again_unchanged(items, delay, retries, live):
    """draft_of gives the rules back as the proto carries them: checking them again is a no-op."""
    items = [w for w in items if (w.start_at.hour, w.start_at.minute) != (w.end_at.hour, w.end_at.minute)]
    draft = batch(retry_strategy=Retry(type="fixed_delay", delay_minutes=delay, max_retries=retries),
                  pause_windows=Windows(sunday=items, advanced=[Advanced(start_at="2025-12-24T18:00:00Z",
                                                                         end_at="2025-12-26T08:00:00.5Z")]),
                  auto_pause_rules=rules(("menu", 3), ("bye", 1)), timezone="Europe/Paris")
    if live:
        draft = batch(**{**draft.__dict__, "mode": "live", "audience_id": "", "trigger_condition": LIVE})
    spec = check_program(draft)
    assert check_program(draft_of(spec)) == spec
    assert spec.pause_windows.on("sunday") == tuple(
        WeeklyWindow(time(w.start_at.hour, w.start_at.minute), time(w.end_at.hour, w.end_at.minute)) for w in items)
    assert spec.pause_windows.advanced == (AbsoluteWindow(datetime(2025, 12, 24, 18, tzinfo=UTC),
                                                          datetime(2025, 12, 26, 8, 0, 0, 500000, tzinfo=UTC)),)


def test_status_transitions():
    assert status.sources(status.ACTIVE) == (status.DRAFT,)
    assert status.sources(status.ARCHIVED) == (status.DRAFT, status.ACTIVE)
    assert not status.can_transition(status.ARCHIVED, status.ACTIVE)
