"""Carrier adapters: what places a call. `sim` (the default) follows a rules file."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from kernel.clock import Clock, get_clock
from kernel.settings import Settings
from services.dialer.domain.flows import Flow, walk_flow
from services.dialer.domain.sim_rules import SimRules, parse_rules


@dataclass(frozen=True)
class CallRequest:
    attempt_id: str
    phone: str          # E.164 number called
    attempt: int        # 1-based attempt number of the contact
    did_number: str     # caller ID
    flow: Flow | None   # run when answered


@dataclass(frozen=True)
class CallOutcome:
    outcome: str  # answered | no_answer | busy | failed | voicemail | invalid_number
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    talk_seconds: int
    node_ids: list[str] = field(default_factory=list)
    # The far end's final SIP status and the Q.850 cause of its Reason header; None when unknown.
    sip_code: int | None = None
    q850_cause: int | None = None


class Carrier(ABC):
    """Places one call and answers how it went; runs the flow when the call is answered."""

    @abstractmethod
    async def place(self, call: CallRequest) -> CallOutcome: ...


class SimCarrier(Carrier):
    """Rings and talks for the rule's virtual seconds on the shared clock."""

    def __init__(self, rules: SimRules, clock: Clock | None = None):
        self.rules = rules
        self.clock = clock or get_clock()

    async def place(self, call: CallRequest) -> CallOutcome:
        plan = self.rules.plan(call.phone, call.attempt)
        # Times follow the plan exactly; real scheduling jitter would be magnified by the clock speed.
        started = self.clock.now()
        await self.clock.sleep(plan.ring_seconds)
        rang_until = started + timedelta(seconds=plan.ring_seconds)
        if not plan.answered:
            return CallOutcome(plan.outcome, started, None, rang_until, 0, [])
        node_ids = walk_flow(call.flow, plan.digits) if call.flow is not None else []
        await self.clock.sleep(plan.talk_seconds)
        talk = int(round(plan.talk_seconds))
        return CallOutcome(plan.outcome, started, rang_until, rang_until + timedelta(seconds=plan.talk_seconds),
                           talk, node_ids)


def load_sim_rules(path: str | None) -> SimRules:
    if not path:
        return parse_rules(None)
    return parse_rules(json.loads(Path(path).read_text()))


def make_carrier(settings: Settings) -> Carrier:
    """The carrier named by CARRIER (default "sim"); the simulated one follows SIM_CARRIER_RULES."""
    name = settings.carrier
    if name == "sim":
        return SimCarrier(load_sim_rules(settings.sim_carrier_rules))
    raise ValueError(f"unknown CARRIER {name!r}; available: sim")
