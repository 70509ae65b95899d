"""Rules of the simulated carrier: which outcome, ring, talk and key presses a number gets, and
who answers.

{"default": {"outcomes": ["answered"], "ringSeconds": 5, "talkSeconds": 30, "digits": []},
 "rules": [{"match": "^\\+2126", "outcomes": ["busy", "answered"], ...},
           {"match": "^\\+2127", "answeredBy": "machine", "amdDecisionSeconds": 2.5}]}

The first rule whose `match` regex is found in the number wins; fields a rule omits come
from the default. Attempt n (1-based) gets outcomes[min(n, len) - 1]. `answeredBy` says who picks
up an answered call, `human` (the default) or `machine`; a list is read per attempt like
`outcomes`. `amdDecisionSeconds` (default 2) is how long answering-machine detection listens
before deciding, when the program asks for detection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("answered", "no_answer", "busy", "failed", "voicemail", "invalid_number")
ANSWERED = "answered"
HUMAN = "human"
MACHINE = "machine"
ANSWERERS = (HUMAN, MACHINE)
DEFAULT_AMD_DECISION_SECONDS = 2.0


class RulesError(ValueError):
    pass


@dataclass(frozen=True)
class Behaviour:
    outcomes: tuple[str, ...]
    ring_seconds: float
    talk_seconds: float
    digits: tuple[str, ...]
    answered_by: tuple[str, ...] = (HUMAN,)
    amd_decision_seconds: float = DEFAULT_AMD_DECISION_SECONDS

    def outcome_for(self, attempt: int) -> str:
        return _nth(self.outcomes, attempt)

    def answerer_for(self, attempt: int) -> str:
        return _nth(self.answered_by, attempt)


def _nth(items: tuple[str, ...], attempt: int) -> str:
    """Attempt n (1-based) gets items[min(n, len) - 1]."""
    n = max(1, attempt)
    return items[min(n, len(items)) - 1]


@dataclass(frozen=True)
class CallPlan:
    """What the simulated carrier does with one attempt."""

    outcome: str
    ring_seconds: float
    talk_seconds: float
    digits: tuple[str, ...]
    answered_by: str = HUMAN  # who picked up an answered call
    amd_decision_seconds: float = DEFAULT_AMD_DECISION_SECONDS

    @property
    def answered(self) -> bool:
        return self.outcome == ANSWERED


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    behaviour: Behaviour


@dataclass(frozen=True)
class SimRules:
    default: Behaviour
    rules: tuple[Rule, ...] = ()

    def behaviour_for(self, number: str) -> Behaviour:
        for rule in self.rules:
            if rule.pattern.search(number):
                return rule.behaviour
        return self.default

    def plan(self, number: str, attempt: int) -> CallPlan:
        behaviour = self.behaviour_for(number)
        outcome = behaviour.outcome_for(attempt)
        answered = outcome == ANSWERED
        return CallPlan(
            outcome=outcome,
            ring_seconds=behaviour.ring_seconds,
            talk_seconds=behaviour.talk_seconds if answered else 0.0,
            digits=behaviour.digits if answered else (),
            answered_by=behaviour.answerer_for(attempt) if answered else HUMAN,
            amd_decision_seconds=behaviour.amd_decision_seconds,
        )


BUILT_IN_DEFAULT = Behaviour(outcomes=(ANSWERED,), ring_seconds=5, talk_seconds=30, digits=())


def _behaviour(raw: Any, base: Behaviour, where: str) -> Behaviour:
    if not isinstance(raw, dict):
        raise RulesError(f"{where}: must be an object")
    outcomes = raw.get("outcomes", list(base.outcomes))
    if not isinstance(outcomes, list) or not outcomes:
        raise RulesError(f"{where}.outcomes: must be a non-empty list")
    for outcome in outcomes:
        if outcome not in OUTCOMES:
            raise RulesError(f"{where}.outcomes: unknown outcome {outcome!r}")
    ring = raw.get("ringSeconds", base.ring_seconds)
    talk = raw.get("talkSeconds", base.talk_seconds)
    for name, value in (("ringSeconds", ring), ("talkSeconds", talk)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise RulesError(f"{where}.{name}: must be a number >= 0")
    digits = raw.get("digits", list(base.digits))
    if not isinstance(digits, list) or not all(isinstance(d, str) for d in digits):
        raise RulesError(f"{where}.digits: must be a list of strings")
    answered_by = raw.get("answeredBy", list(base.answered_by))
    if isinstance(answered_by, str):
        answered_by = [answered_by]
    if not isinstance(answered_by, list) or not answered_by or any(a not in ANSWERERS for a in answered_by):
        raise RulesError(f"{where}.answeredBy: must be human, machine or a non-empty list of them")
    decision = raw.get("amdDecisionSeconds", base.amd_decision_seconds)
    if isinstance(decision, bool) or not isinstance(decision, int | float) or decision < 0:
        raise RulesError(f"{where}.amdDecisionSeconds: must be a number >= 0")
    return Behaviour(tuple(outcomes), float(ring), float(talk), tuple(digits), tuple(answered_by), float(decision))


def parse_rules(raw: Any) -> SimRules:
    """Build rules from the decoded JSON; RulesError names what is wrong."""
    if raw is None:
        return SimRules(BUILT_IN_DEFAULT)
    if not isinstance(raw, dict):
        raise RulesError("rules file: must be an object")
    default = _behaviour(raw.get("default", {}), BUILT_IN_DEFAULT, "default")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise RulesError("rules: must be a list")
    rules = []
    for i, item in enumerate(rules_raw):
        where = f"rules[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("match"), str):
            raise RulesError(f"{where}.match: required regex")
        try:
            pattern = re.compile(item["match"])
        except re.error as exc:
            raise RulesError(f"{where}.match: {exc}") from None
        rules.append(Rule(pattern, _behaviour(item, default, where)))
    return SimRules(default, tuple(rules))
