"""One clock for every process.

Virtual time = CLOCK_START + (real time - CLOCK_ANCHOR) * CLOCK_SPEED. The launcher
(`outbound run`, the test harness) sets all three for every process it starts so that
they agree; a process started alone anchors at its own start. With the defaults
(speed 1, no start) virtual time is real time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from kernel import settings as settings_module
from kernel.timefmt import iso, parse_iso


class Clock:
    def __init__(self, speed: float = 1.0, start: datetime | None = None, anchor: float | None = None):
        if speed <= 0:
            raise ValueError("CLOCK_SPEED must be positive")
        self.speed = float(speed)
        self._anchor = time.time() if anchor is None else float(anchor)
        self._start = start or datetime.fromtimestamp(self._anchor, UTC)

    @classmethod
    def from_settings(cls, settings: settings_module.Settings) -> Clock:
        """The clock the launcher set for this process (CLOCK_SPEED, CLOCK_START, CLOCK_ANCHOR)."""
        start = parse_iso(settings.clock_start) if settings.clock_start else None
        return cls(speed=settings.clock_speed, start=start, anchor=settings.clock_anchor)

    def now(self) -> datetime:
        elapsed = (time.time() - self._anchor) * self.speed
        return self._start + timedelta(seconds=elapsed)

    def real_seconds(self, virtual_seconds: float) -> float:
        """Real seconds that pass while `virtual_seconds` pass on this clock."""
        return max(0.0, virtual_seconds / self.speed)

    async def sleep(self, virtual_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(virtual_seconds))

    def env(self) -> dict[str, str]:
        """Environment that makes a child process share this clock exactly."""
        return {"CLOCK_SPEED": repr(self.speed), "CLOCK_START": iso(self._start), "CLOCK_ANCHOR": repr(self._anchor)}


_clock: Clock | None = None


def get_clock() -> Clock:
    global _clock
    if _clock is None:
        _clock = Clock.from_settings(settings_module.get())
    return _clock
