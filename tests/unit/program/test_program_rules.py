"""The whole pure check of a program and PATCH merging."""

import uuid
from datetime import UTC, datetime

import pytest

from kernel.errors import ValidationError
from services.program.domain.model import (
    AutoPauseRule,
    ProgramDraft,
    RetryStrategy,
    TriggerCondition,
    TriggerOffset,
)
from services.program.domain.patch import apply_patch, draft_of
from services.program.domain.validation import check_program, check_rule_nodes

FLOW = str(uuid.uuid4())
AUDIENCE = str(uuid.uuid4())
DIDS = (str(uuid.uuid4()), str(uuid.uuid4()))
LIVE = TriggerCondition("date", "due", "before", TriggerOffset(2, 15, 0))


def batch(**kw) -> ProgramDraft:
    base = dict(name="Holiday", audience_id=AUDIENCE, flow_id=FLOW, start_at="2025-12-20T09:00:00Z",
                stop_at="2025-12-20T18:00:00Z", did_pool=DIDS, retry_strategy=RetryStrategy("none"))
    base.update(kw)
    return ProgramDraft(**base)


def refused(draft: ProgramDraft) -> str:
    with pytest.raises(ValidationError) as err:
        check_program(draft)
    return str(err.value)


def test_batch_defaults():
    spec = check_program(batch())
    assert spec.mode == "batch" and spec.timezone == "UTC" and spec.max_concurrent_calls == 10
    assert spec.start_at == datetime(2025, 12, 20, 9, tzinfo=UTC)
    assert spec.trigger_condition is None and spec.pause_windows is None and spec.auto_pause_rules is None


def test_mode_rules():
    assert refused(batch(audience_id="")) == "audienceId: is required for batch programs"
    assert refused(batch(trigger_condition=LIVE)) == "triggerCondition: must not be set for batch programs"
    assert refused(batch(mode="live")) == "triggerCondition: is required for live programs"
    assert refused(batch(mode="hybrid")).startswith("mode: ")
    live = check_program(batch(mode="live", audience_id="", trigger_condition=LIVE))
    assert live.audience_id is None and live.trigger_condition == LIVE


@pytest.mark.parametrize(("change", "message"), [
    ({"name": ""}, "name: must not be empty"),
    ({"name": "x" * 201}, "name: must be at most 200 characters"),
    ({"flow_id": ""}, "flowId: is required"),
    ({"flow_id": "flow-1"}, "flowId: must be a UUID"),
    ({"audience_id": "a"}, "audienceId: must be a UUID"),
    ({"start_at": ""}, "startAt: is required"),
    ({"start_at": "tomorrow"}, "startAt: must be an ISO 8601 date-time"),
    ({"stop_at": "2025-12-20T09:00:00Z"}, "stopAt: must be after startAt"),
    ({"did_pool": ()}, "didPool: at least one DID is required"),
    ({"did_pool": (DIDS[0], DIDS[0])}, "didPool[1]: duplicate DID id"),
    ({"did_pool": ("nope",)}, "didPool[0]: must be a UUID"),
    ({"retry_strategy": None}, "retryStrategy: is required"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown IANA time zone 'Mars/Olympus'"),
    ({"max_concurrent_calls": 0}, "maxConcurrentCalls: must be between 1 and 1000"),
    ({"max_concurrent_calls": 1001}, "maxConcurrentCalls: must be between 1 and 1000"),
    ({"auto_pause_rules": (AutoPauseRule("a", 0),)}, "autoPauseRules[0].threshold: must be at least 1"),
    ({"auto_pause_rules": (AutoPauseRule("a", 1), AutoPauseRule("a", 2))},
     "autoPauseRules[1].nodeId: another rule already counts node 'a'"),
])
def test_each_rule_names_its_field(change, message):
    assert refused(batch(**change)) == message


def test_rule_nodes_must_be_in_the_flow():
    check_rule_nodes((AutoPauseRule("menu", 3),), ["welcome", "menu"])
    with pytest.raises(ValidationError, match=r"^autoPauseRules\[0\]\.nodeId: node 'x' is not in"):
        check_rule_nodes((AutoPauseRule("x", 3),), ["welcome"])


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
