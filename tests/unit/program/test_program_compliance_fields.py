"""The program's callingHours and retryStrategy.retryOn: checked with the program (in the order of
its fields), kept through PATCH merging, cleared by a null callingHours."""

import uuid
from datetime import time

import pytest

from campaign_rules.calling_hours import CUSTOM, FR_2023, US_TCPA, CallingHours, Window
from campaign_rules.proto import CallingHoursMessage as Hours
from campaign_rules.proto import CallingWindowsMessage as Week
from campaign_rules.proto import PauseWindowItemMessage as Item
from campaign_rules.proto import RetryOutcomesMessage as Outcomes
from campaign_rules.proto import RetryStrategyMessage as Retry
from campaign_rules.proto import TimeOfDayMessage as TimeOfDay
from services.program.domain.model import ProgramDraft
from services.program.domain.patch import apply_patch, draft_of
from services.program.domain.validation import check_program
from tests.unit.program.test_program_rules import refused

NINE_TO_FIVE = Item(start_at=TimeOfDay(hour=9), end_at=TimeOfDay(hour=17))
BUSY_ONLY = Retry(type="fixed_delay", delay_minutes=30, max_retries=2, retry_on=Outcomes(outcomes=["busy"]))


def batch(**kw) -> ProgramDraft:
    base = dict(name="Holiday", audience_id=str(uuid.uuid4()), flow_id=str(uuid.uuid4()),
                start_at="2025-12-20T09:00:00Z", did_pool=(str(uuid.uuid4()),), retry_strategy=Retry(type="none"))
    base.update(kw)
    return ProgramDraft(**base)


def test_without_them_a_program_has_no_calling_hours_and_retries_every_outcome():
    spec = check_program(batch(retry_strategy=Retry(type="fixed_delay", delay_minutes=5, max_retries=1)))
    assert spec.calling_hours is None
    assert spec.retry_strategy.retry_on is None and spec.retry_strategy.retried_outcomes == (
        "busy", "no_answer", "failed", "voicemail")


@pytest.mark.parametrize("preset", [US_TCPA, FR_2023])
def test_a_preset_is_kept(preset):
    assert check_program(batch(calling_hours=Hours(preset=preset))).calling_hours == CallingHours(preset)


def test_custom_hours_and_retry_on_are_kept():
    spec = check_program(batch(calling_hours=Hours(preset=CUSTOM, windows=Week(saturday=[NINE_TO_FIVE])),
                               retry_strategy=BUSY_ONLY))
    assert spec.calling_hours == CallingHours(CUSTOM, {"saturday": (Window(time(9), time(17)),)})
    assert spec.retry_strategy.retry_on == ("busy",)


@pytest.mark.parametrize(("change", "message"), [
    ({"calling_hours": Hours(preset="nightly")}, "callingHours.preset: must be one of us_tcpa, fr_2023, custom"),
    ({"calling_hours": Hours(preset=CUSTOM)}, "callingHours.windows: is required for preset custom"),
    ({"calling_hours": Hours(preset=US_TCPA, windows=Week(monday=[NINE_TO_FIVE]))},
     "callingHours.windows: must not be set for preset us_tcpa (its windows are fixed)"),
    ({"retry_strategy": Retry(type="scheduled", retry_dates=["2026-01-01T00:00:00Z"],
                              retry_on=Outcomes(outcomes=["busy", "busy"]))},
     "retryStrategy.retryOn[1]: duplicate outcome 'busy'"),
])
def test_each_rule_names_its_field(change, message):
    assert refused(batch(**change)) == message


def test_calling_hours_are_checked_after_the_fields_before_them():
    bad_hours = Hours(preset="nightly")
    assert refused(batch(calling_hours=bad_hours, max_concurrent_calls=0)).startswith("maxConcurrentCalls: ")
    assert refused(batch(calling_hours=bad_hours, timezone="Nowhere")).startswith("timezone: ")


def test_patch_sets_keeps_and_clears_calling_hours():
    current = draft_of(check_program(batch(calling_hours=Hours(preset=FR_2023), retry_strategy=BUSY_ONLY)))
    renamed, _ = apply_patch(current, ProgramDraft(name="Renamed"), ["name"])
    kept = check_program(renamed)
    assert kept.calling_hours == CallingHours(FR_2023) and kept.retry_strategy.retry_on == ("busy",)
    changed, names = apply_patch(current, ProgramDraft(calling_hours=Hours(preset=US_TCPA)), ["callingHours"])
    assert names == {"callingHours"} and check_program(changed).calling_hours == CallingHours(US_TCPA)
    cleared, _ = apply_patch(current, ProgramDraft(), ["callingHours"])
    assert check_program(cleared).calling_hours is None
