"""Why an execution is not calling: the reason of a paused* status, and the pause window holding
a running one.

The reason follows from the status alone (paused: manual, paused_threshold: threshold,
paused_no_credits: credits); the rule of a threshold pause is the first rule whose counter has
reached its threshold (the counters only grow while paused, and resume is what resets them).
A running execution inside a pause window is held until the first instant no window covers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from campaign_rules.auto_pause import CounterView
from campaign_rules.pause_windows import PauseWindows
from services.execution.domain import status as st

MANUAL = "manual"
THRESHOLD = "threshold"
CREDITS = "credits"
PAUSE_WINDOW = "pause_window"

_KINDS = {st.PAUSED: MANUAL, st.PAUSED_THRESHOLD: THRESHOLD, st.PAUSED_NO_CREDITS: CREDITS}
# Windows that run into each other are followed this many times at most (a week of daily windows).
_CHAIN = 16


@dataclass(frozen=True)
class PauseReason:
    kind: str
    rule: CounterView | None = None  # threshold only, when the counters are known


def pause_reason(status: str, counters: Sequence[CounterView] | None) -> PauseReason | None:
    """None unless `status` is paused*."""
    kind = _KINDS.get(status)
    if kind is None:
        return None
    rule = None
    if kind == THRESHOLD and counters:
        rule = next((c for c in counters if c.count >= c.threshold), None)
    return PauseReason(kind, rule)


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _ends_covering(windows: PauseWindows, zone: ZoneInfo, now: datetime) -> list[datetime]:
    """The ends of every window that covers `now`."""
    ends = [w.end for w in windows.advanced if w.start <= now < w.end]
    if not any(windows.weekly):
        return ends
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    for window in windows.weekly[today.weekday()]:
        if window.start < window.end and window.start <= clock < window.end:
            ends.append(_at(today, window.end, zone))
        elif window.end < window.start and clock >= window.start:
            ends.append(_at(today + timedelta(days=1), window.end, zone))  # wraps past midnight
    yesterday = today - timedelta(days=1)
    for window in windows.weekly[yesterday.weekday()]:
        if window.end < window.start and clock < window.end:
            ends.append(_at(today, window.end, zone))
    return ends


def pause_window_end(windows: PauseWindows | None, timezone: str, now: datetime) -> datetime | None:
    """When the pause windows covering `now` stop covering it; None when none covers it now."""
    if windows is None:
        return None
    zone = ZoneInfo(timezone or "UTC")
    ends = _ends_covering(windows, zone, now)
    if not ends:
        return None
    until = max(ends)
    for _ in range(_CHAIN):  # a window that begins where another ends holds on
        more = [e for e in _ends_covering(windows, zone, until) if e > until]
        if not more:
            break
        until = max(more)
    return until
