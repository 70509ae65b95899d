"""Scenario 8's figures from the calls an execution placed, as `/calls` lists them: how many
answered calls were up at once, how fast calls were set up while the lines filled, and the
call-seconds the dialer carried.

Invariant: every figure is computed from the call records' own instants (INVITE, answer, end),
which the SIP carrier takes from the shared clock at the INVITE plus the real seconds that
followed. At clock speed 1 they are real instants, so overlaps and rates are real; at another
speed the starts of different calls would be spread by the speed while their lengths are not,
and the overlap would be wrong: scenario 8 runs its system at speed 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kernel.timefmt import parse_iso


@dataclass(frozen=True)
class PlacedCall:
    outcome: str
    started: datetime | None  # the INVITE left
    answered: datetime | None
    ended: datetime | None
    node_ids: tuple[str, ...]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PlacedCall:
        def at(key: str) -> datetime | None:
            return parse_iso(raw[key]) if raw.get(key) else None

        return cls(raw["outcome"], at("startedAt"), at("answeredAt"), at("endedAt"), tuple(raw.get("nodeIds") or ()))

    @property
    def talk_seconds(self) -> float:
        if self.answered is None or self.ended is None:
            return 0.0
        return max(0.0, (self.ended - self.answered).total_seconds())


@dataclass(frozen=True)
class Peak:
    calls: int  # the most answered calls up at one instant
    seconds_to_peak: float | None  # from the first INVITE to the instant the peak was first reached


@dataclass(frozen=True)
class RampRate:
    """Answers per second while the first `calls` calls were set up, between 10 % and 90 % of them."""

    calls: int
    answers_per_second: float | None


def answered(calls: list[PlacedCall]) -> list[PlacedCall]:
    return [c for c in calls if c.answered is not None and c.ended is not None]


def _by_invite(calls: list[PlacedCall]) -> list[PlacedCall]:
    """The answered calls in the order their INVITEs left."""
    timed = [(c.started, c) for c in answered(calls) if c.started is not None]
    timed.sort(key=lambda pair: pair[0])
    return [c for _, c in timed]


def peak_answered(calls: list[PlacedCall]) -> Peak:
    """The most calls between their answer and their end at one instant (an end at the very
    instant of another's answer is counted first: the two were not up together)."""
    events = sorted([(c.answered, 1) for c in answered(calls)] + [(c.ended, -1) for c in answered(calls)],
                    key=lambda e: (e[0], e[1]))
    up = best = 0
    best_at: datetime | None = None
    for at, change in events:
        up += change
        if up > best:
            best, best_at = up, at
    starts = [c.started for c in calls if c.started is not None]
    to_peak = (best_at - min(starts)).total_seconds() if best_at is not None and starts else None
    return Peak(best, round(to_peak, 3) if to_peak is not None else None)


def _rate(instants: list[datetime], low: float = 0.1, high: float = 0.9) -> float | None:
    """Instants per second between the `low` and `high` fractions of them (sorted first)."""
    ordered = sorted(instants)
    if len(ordered) < 10:
        return None
    first, last = int(len(ordered) * low), int(len(ordered) * high) - 1
    seconds = (ordered[last] - ordered[first]).total_seconds()
    return round((last - first) / seconds, 1) if seconds > 0 else None


def ramp_rate(calls: list[PlacedCall], size: int) -> RampRate:
    """The set-up rate of the first `size` answered calls (by INVITE): the ramp that fills the
    lines, when the dialer places calls as fast as it can rather than as fast as lines free up.
    Answers, not the records' start instants: those are when a call's command left for its line,
    and a few hundred leave within milliseconds; an answer is the far end's 200 to an INVITE
    that went out and was taken, which is the set-up the far end sees."""
    first = _by_invite(calls)[:size]
    return RampRate(len(first), _rate([c.answered for c in first if c.answered is not None]))


def steady_rate(calls: list[PlacedCall], size: int) -> float | None:
    """Answers per second after the ramp: the calls after the first `size` (by INVITE), over the
    time from the ramp's last answer to the last answer. Once the lines are full a call starts
    only when another ends, so this is about lines / call length, not what the dialer can do."""
    ordered = _by_invite(calls)
    ramp, later = ordered[:size], ordered[size:]
    if not ramp or not later:
        return None
    ramp_end = max(c.answered for c in ramp if c.answered is not None)
    last = max(c.answered for c in later if c.answered is not None)
    seconds = (last - ramp_end).total_seconds()
    return round(len(later) / seconds, 1) if seconds > 0 else None


def call_seconds(calls: list[PlacedCall]) -> float:
    """Seconds from answer to end, summed over the answered calls."""
    return sum(c.talk_seconds for c in calls)


def took(calls: list[PlacedCall], node_id: str) -> int:
    """Calls that ran `node_id`."""
    return sum(1 for c in calls if node_id in c.node_ids)
