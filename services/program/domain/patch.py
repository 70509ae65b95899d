"""PATCH semantics: only the fields named in the mask change; the result is re-validated whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from campaign_rules.checks import fail
from kernel.timefmt import iso
from services.program.domain.model import ProgramDraft, ProgramSpec

# API name → draft attribute. `mode` is deliberately absent: it is fixed at creation.
PATCHABLE = {
    "name": "name",
    "audienceId": "audience_id",
    "flowId": "flow_id",
    "startAt": "start_at",
    "stopAt": "stop_at",
    "didPool": "did_pool",
    "retryStrategy": "retry_strategy",
    "pauseWindows": "pause_windows",
    "autoPauseRules": "auto_pause_rules",
    "triggerCondition": "trigger_condition",
    "timezone": "timezone",
    "maxConcurrentCalls": "max_concurrent_calls",
    "callingHours": "calling_hours",
    "answeringMachine": "answering_machine",
}


def draft_of(spec: ProgramSpec) -> ProgramDraft:
    """The stored program as a draft (its rules as the proto carries them), so a patch can be laid
    over it and checked again."""
    condition, windows, rules = spec.trigger_condition, spec.pause_windows, spec.auto_pause_rules
    hours, machine = spec.calling_hours, spec.answering_machine
    return ProgramDraft(
        name=spec.name, mode=spec.mode, audience_id=spec.audience_id or "", flow_id=spec.flow_id,
        trigger_condition=trigger_condition.to_proto(condition) if condition is not None else None,
        start_at=iso(spec.start_at), stop_at=iso(spec.stop_at), did_pool=spec.did_pool,
        retry_strategy=retry.to_proto(spec.retry_strategy),
        pause_windows=pause_windows.to_proto(windows) if windows is not None else None,
        auto_pause_rules=auto_pause.to_proto(rules) if rules is not None else None,
        timezone=spec.timezone, max_concurrent_calls=spec.max_concurrent_calls,
        calling_hours=calling_hours.to_proto(hours) if hours is not None else None,
        answering_machine=answering_machine.to_proto(machine) if machine is not None else None,
    )


def apply_patch(current: ProgramDraft, patch: ProgramDraft, mask: Iterable[str]) -> tuple[ProgramDraft, set[str]]:
    """Lay the masked fields of `patch` over `current`; returns the merge and the API names changed."""
    names = list(dict.fromkeys(mask))
    changes = {}
    for name in names:
        if name == "mode":
            raise fail("mode", "cannot be changed after creation")
        attr = PATCHABLE.get(name)
        if attr is None:
            raise fail(name or "updateMask", "unknown or read-only field")
        changes[attr] = getattr(patch, attr)
    if "audience_id" in changes and not changes["audience_id"]:
        raise fail("audienceId", "must not be empty")
    return replace(current, **changes), set(names)
