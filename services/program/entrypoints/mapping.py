"""Proto ↔ domain for the program context. The campaign rules travel as the proto carries them
into the draft; campaign_rules parses (and checks) them, and gives them back as proto."""

from __future__ import annotations

from campaign_rules import (
    answering_machine,
    auto_pause,
    calling_hours,
    pause_windows,
    retry,
    trigger_condition,
)
from kernel.timefmt import iso
from outbound.program.v1 import program_pb2 as pb
from services.program.domain.model import ProgramDraft, ProgramView


def draft_from_proto(msg: pb.ProgramInput) -> ProgramDraft:
    return ProgramDraft(
        name=msg.name, mode=msg.mode, audience_id=msg.audience_id, flow_id=msg.flow_id,
        trigger_condition=msg.trigger_condition if msg.HasField("trigger_condition") else None,
        start_at=msg.start_at, stop_at=msg.stop_at, did_pool=tuple(msg.did_pool),
        retry_strategy=msg.retry_strategy if msg.HasField("retry_strategy") else None,
        pause_windows=msg.pause_windows if msg.HasField("pause_windows") else None,
        auto_pause_rules=msg.auto_pause_rules if msg.HasField("auto_pause_rules") else None,
        timezone=msg.timezone if msg.HasField("timezone") else None,
        max_concurrent_calls=msg.max_concurrent_calls if msg.HasField("max_concurrent_calls") else None,
        calling_hours=msg.calling_hours if msg.HasField("calling_hours") else None,
        answering_machine=msg.answering_machine if msg.HasField("answering_machine") else None,
    )


def program_to_proto(view: ProgramView) -> pb.Program:
    program, spec = view.program, view.program.spec
    out = pb.Program(
        id=program.id, name=spec.name, mode=spec.mode, organization_id=program.organization_id,
        audience_id=spec.audience_id or "", flow_id=spec.flow_id, status=program.status,
        start_at=iso(spec.start_at), stop_at=iso(spec.stop_at),
        did_pool=[pb.DidPoolItem(id=d.id, number=d.number, country=d.country) for d in view.did_pool],
        retry_strategy=retry.to_proto(spec.retry_strategy),
        created_at=iso(program.created_at), updated_at=iso(program.updated_at),
        timezone=spec.timezone, max_concurrent_calls=spec.max_concurrent_calls,
    )
    # CopyFrom sets the field even with an empty rule: absent and empty read differently (null, {} / []).
    if spec.trigger_condition is not None:
        out.trigger_condition.CopyFrom(trigger_condition.to_proto(spec.trigger_condition))
    if spec.pause_windows is not None:
        out.pause_windows.CopyFrom(pause_windows.to_proto(spec.pause_windows))
    if spec.auto_pause_rules is not None:
        out.auto_pause_rules.CopyFrom(auto_pause.to_proto(spec.auto_pause_rules))
    if spec.calling_hours is not None:
        out.calling_hours.CopyFrom(calling_hours.to_proto(spec.calling_hours))
    if spec.answering_machine is not None:
        out.answering_machine.CopyFrom(answering_machine.to_proto(spec.answering_machine))
    return out
