"""CPU seconds and peak resident memory of the processes a benchmark runs, read from /proc."""

from __future__ import annotations

import os

import psutil

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """User + system CPU seconds of a process (and of its live children, e.g. PostgreSQL backends)."""
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        total = times.user + times.system
        if with_children:
            total += times.children_user + times.children_system  # children already reaped
            for child in proc.children(recursive=True):
                try:
                    total += sum(child.cpu_times()[:2])
                except psutil.Error:
                    pass
        return total
    except psutil.Error:
        return 0.0


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM: the highest resident set size the process has had since it started."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class CpuMeter:
    """CPU seconds each named process spent between start() and stop()."""

    def __init__(self, pids: dict[str, int], with_children: frozenset[str] = frozenset()):
        self.pids = pids
        self.with_children = with_children
        self._start: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        return {name: cpu_seconds(pid, name in self.with_children) for name, pid in self.pids.items()}

    def start(self) -> CpuMeter:
        self._start = self._sample()
        return self

    def stop(self) -> dict[str, float]:
        end = self._sample()
        return {name: round(end[name] - self._start.get(name, 0.0), 3) for name in end}
