"""Child processes of a service, found by the module they run, and whether they still run (Linux /proc).

A process is named by its pid and its start time, so a pid the kernel hands to a new process
after the old one ended is never mistaken for the old one. A zombie has exited: only its parent's
wait is missing, and after its parent was killed that parent is whoever adopted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Seen:
    pid: int
    started: int  # start time in clock ticks after boot: with the pid, one process for good
    cmdline: tuple[str, ...]


@dataclass(frozen=True)
class _Stat:
    state: str
    ppid: int
    started: int


def _stat(pid: int) -> _Stat | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    fields = raw[raw.rindex(")") + 2:].split()
    return _Stat(state=fields[0], ppid=int(fields[1]), started=int(fields[19]))


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        return tuple(part.decode(errors="replace") for part in (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
                     if part)
    except OSError:
        return ()


def children_running(pid: int, module: str) -> list[Seen]:
    """The live descendants of `pid` started as `python -m <module>`."""
    stats = {int(p.name): s for p in PROC.iterdir() if p.name.isdigit() and (s := _stat(int(p.name)))}
    family, found = {pid}, True
    while found:  # descendants of descendants, until no new one turns up
        grown = family | {child for child, s in stats.items() if s.ppid in family}
        found, family = grown != family, grown
    out = []
    for child in sorted(family - {pid}):
        cmdline = _cmdline(child)
        if stats[child].state != "Z" and "-m" in cmdline and module in cmdline:
            out.append(Seen(child, stats[child].started, cmdline))
    return out


def alive(seen: Seen) -> bool:
    """The very process `seen` still runs (not ended, not a zombie, its pid not reused)."""
    stat = _stat(seen.pid)
    return stat is not None and stat.started == seen.started and stat.state != "Z"


def still_alive(seen: list[Seen]) -> list[Seen]:
    return [s for s in seen if alive(s)]
