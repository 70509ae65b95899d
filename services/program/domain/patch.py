"""PATCH semantics: only the fields named in the mask change; the result is re-validated whole."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from kernel.timefmt import iso
from services.program.domain.model import ProgramDraft, ProgramSpec
from services.program.domain.validation import fail

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
}


def draft_of(spec: ProgramSpec) -> ProgramDraft:
    """The stored program as a draft, so a patch can be laid over it and checked again."""
    return ProgramDraft(
        name=spec.name, mode=spec.mode, audience_id=spec.audience_id or "", flow_id=spec.flow_id,
        trigger_condition=spec.trigger_condition, start_at=iso(spec.start_at), stop_at=iso(spec.stop_at),
        did_pool=spec.did_pool, retry_strategy=spec.retry_strategy, pause_windows=spec.pause_windows,
        auto_pause_rules=spec.auto_pause_rules, timezone=spec.timezone,
        max_concurrent_calls=spec.max_concurrent_calls,
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
