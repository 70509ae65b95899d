"""When an execution may call, as dispatch and the lease sweep ask it: pause windows, stopAt,
calling hours per zone key, and the deadline of a dial request sent now.

What it computes is cached per execution until it can change: the next pause window's start
until that window begins, a zone gate until its `valid_until` or until live contacts add keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_rules.pause_windows import is_paused, next_start
from kernel.clock import Clock
from services.execution.adapters.claims import CallingExecution
from services.execution.domain import status as st
from services.execution.domain.calling_hours_gate import ZoneGate, gate
from services.execution.domain.deadline import dial_deadline


@dataclass(frozen=True)
class CachedGate:
    gate: ZoneGate
    keys: tuple[str, ...]  # the execution's zone keys it was computed for (live contacts add keys)


class CallingTimes:
    def __init__(self, clock: Clock, request_ttl_seconds: float):
        self.clock = clock
        self.request_ttl_seconds = request_ttl_seconds  # real seconds
        # execution id → (start of its next pause window, valid until): recomputed once passed.
        self._next_windows: dict[str, tuple[datetime | None, datetime]] = {}
        self._zone_gates: dict[str, CachedGate] = {}

    def forget(self, execution_id: str) -> None:
        """The execution has ended: nothing of it is asked again."""
        self._next_windows.pop(execution_id, None)
        self._zone_gates.pop(execution_id, None)

    def in_pause_window(self, row: CallingExecution, now: datetime) -> bool:
        return is_paused(row.pause_windows, row.timezone, now)

    def may_call(self, row: CallingExecution, now: datetime) -> bool:
        stop_at = row.scheduled_stop_at
        return (row.status == st.RUNNING and (stop_at is None or stop_at > now)
                and not self.in_pause_window(row, now))

    def deadline(self, row: CallingExecution, now: datetime) -> datetime:
        """Of a dial request sent now (domain/deadline.py)."""
        cached = self._next_windows.get(row.id)
        if cached is None or now >= cached[1]:
            window = next_start(row.pause_windows, row.timezone, now)
            # Valid until that window begins (none can begin before it), or for a day without one.
            cached = self._next_windows[row.id] = (window, window or now + timedelta(days=1))
        return dial_deadline(now, self._ttl(), cached[0], row.scheduled_stop_at)

    def zone_gate(self, row: CallingExecution, now: datetime) -> ZoneGate | None:
        """Its zone keys open and closed now (calling_hours_gate); None without calling hours."""
        if row.calling_hours is None:
            return None
        cached = self._zone_gates.get(row.id)
        if cached is None or now >= cached.gate.valid_until or cached.keys != row.zone_keys:
            cached = self._zone_gates[row.id] = CachedGate(
                gate(row.calling_hours, row.zone_keys, now, self._ttl()), row.zone_keys)
        return cached.gate

    def _ttl(self) -> timedelta:
        return timedelta(seconds=self.request_ttl_seconds * self.clock.speed)
