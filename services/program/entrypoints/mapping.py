"""Proto ↔ domain for the program context."""

from __future__ import annotations

from kernel.timefmt import iso
from outbound.program.v1 import program_pb2 as pb
from services.program.domain.model import (
    WEEKDAYS,
    AdvancedWindow,
    AutoPauseRule,
    PauseWindows,
    ProgramDraft,
    ProgramView,
    RetryStrategy,
    TimeOfDay,
    TriggerCondition,
    TriggerOffset,
    WeeklyWindow,
)


def _time(value: pb.TimeOfDay) -> TimeOfDay:
    return TimeOfDay(value.hour, value.minute)


def draft_from_proto(msg: pb.ProgramInput) -> ProgramDraft:
    condition = None
    if msg.HasField("trigger_condition"):
        tc = msg.trigger_condition
        condition = TriggerCondition(tc.type, tc.attribute_name, tc.direction,
                                     TriggerOffset(tc.offset.days, tc.offset.hours, tc.offset.minutes))
    retry = None
    if msg.HasField("retry_strategy"):
        rs = msg.retry_strategy
        retry = RetryStrategy(rs.type, rs.delay_minutes, rs.max_retries, tuple(rs.retry_dates))
    windows = None
    if msg.HasField("pause_windows"):
        pw = msg.pause_windows
        # Repeated fields carry no presence: an empty day is the same as an absent one.
        weekly = {day: tuple(WeeklyWindow(_time(w.start_at), _time(w.end_at)) for w in getattr(pw, day))
                  for day in WEEKDAYS if len(getattr(pw, day))}
        advanced = tuple(AdvancedWindow(w.start_at, w.end_at) for w in pw.advanced) if len(pw.advanced) else None
        windows = PauseWindows(weekly=weekly, advanced=advanced)
    rules = None
    if msg.HasField("auto_pause_rules"):
        rules = tuple(AutoPauseRule(r.node_id, r.threshold, r.reset_on_resume) for r in msg.auto_pause_rules.rules)
    return ProgramDraft(
        name=msg.name, mode=msg.mode, audience_id=msg.audience_id, flow_id=msg.flow_id,
        trigger_condition=condition, start_at=msg.start_at, stop_at=msg.stop_at, did_pool=tuple(msg.did_pool),
        retry_strategy=retry, pause_windows=windows, auto_pause_rules=rules,
        timezone=msg.timezone if msg.HasField("timezone") else None,
        max_concurrent_calls=msg.max_concurrent_calls if msg.HasField("max_concurrent_calls") else None,
    )


def _time_proto(value: TimeOfDay) -> pb.TimeOfDay:
    return pb.TimeOfDay(hour=value.hour, minute=value.minute)


def program_to_proto(view: ProgramView) -> pb.Program:
    program, spec = view.program, view.program.spec
    out = pb.Program(
        id=program.id, name=spec.name, mode=spec.mode, organization_id=program.organization_id,
        audience_id=spec.audience_id or "", flow_id=spec.flow_id, status=program.status,
        start_at=iso(spec.start_at), stop_at=iso(spec.stop_at),
        did_pool=[pb.DidPoolItem(id=d.id, number=d.number, country=d.country) for d in view.did_pool],
        retry_strategy=pb.RetryStrategy(type=spec.retry_strategy.type,
                                        delay_minutes=spec.retry_strategy.delay_minutes,
                                        max_retries=spec.retry_strategy.max_retries,
                                        retry_dates=list(spec.retry_strategy.retry_dates)),
        created_at=iso(program.created_at), updated_at=iso(program.updated_at),
        timezone=spec.timezone, max_concurrent_calls=spec.max_concurrent_calls,
    )
    if spec.trigger_condition is not None:
        tc = spec.trigger_condition
        out.trigger_condition.CopyFrom(pb.TriggerCondition(
            type=tc.type, attribute_name=tc.attribute_name, direction=tc.direction,
            offset=pb.TriggerOffset(days=tc.offset.days, hours=tc.offset.hours, minutes=tc.offset.minutes)))
    if spec.pause_windows is not None:
        out.pause_windows.SetInParent()
        for day, items in spec.pause_windows.weekly.items():
            getattr(out.pause_windows, day).extend(
                pb.PauseWindowItem(start_at=_time_proto(w.start_at), end_at=_time_proto(w.end_at)) for w in items)
        for w in spec.pause_windows.advanced or ():
            out.pause_windows.advanced.append(pb.PauseWindowAdvancedItem(start_at=w.start_at, end_at=w.end_at))
    if spec.auto_pause_rules is not None:
        out.auto_pause_rules.SetInParent()
        out.auto_pause_rules.rules.extend(
            pb.AutoPauseRule(node_id=r.node_id, threshold=r.threshold, reset_on_resume=r.reset_on_resume)
            for r in spec.auto_pause_rules)
    return out
