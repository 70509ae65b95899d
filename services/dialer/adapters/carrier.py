"""Carrier adapters: what places a call. `sim` (the default) follows a rules file; `sip` calls
through SIP trunks (adapters.sip_carrier)."""

from __future__ import annotations

import json
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from campaign_rules.answering_machine import AnsweringMachine, NodeStep, message_chain
from kernel.clock import Clock, get_clock
from kernel.settings import Settings
from services.dialer.domain import voicemail
from services.dialer.domain.flows import Flow, walk_flow
from services.dialer.domain.sim_rules import CallPlan, SimRules, parse_rules
from services.dialer.domain.trunks import (
    TrunkConfigError,
    parse_public_addr,
    parse_ring_timeout,
    parse_rtp_ports,
    parse_sip_bind,
)
from services.dialer.domain.voicemail import AmdResult, Handling

DEFAULT_SIP_MAX_CALLS = 200
MAX_SIP_MAX_CALLS = 4000
MAX_SIP_TRUNKS = 8


@dataclass(frozen=True)
class CallRequest:
    attempt_id: str
    phone: str          # E.164 number called
    attempt: int        # 1-based attempt number of the contact
    did_number: str     # caller ID
    flow: Flow | None   # run when answered
    # A carrier that waits before the call starts (trunk room, a free line) asks this right
    # before the INVITE: the reason the call may no longer start (pause, deadline), or "".
    may_start: Callable[[], Awaitable[str]] | None = field(default=None, compare=False)
    # The program's answering-machine handling (domain.voicemail); None: no detection.
    answering_machine: AnsweringMachine | None = None


class CallNotPlaced(Exception):
    """The carrier did not start the call (nothing reached the far end): the attempt is given back."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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
    amd: AmdResult | None = None  # what answering-machine detection decided; None when none ran


class Carrier(ABC):
    """Places one call and answers how it went; runs the flow when the call is answered."""

    @abstractmethod
    async def place(self, call: CallRequest) -> CallOutcome: ...

    async def start(self) -> None:
        """Before the first call (the SIP carrier starts its line workers)."""
        return None

    async def run_until_stopped(self) -> None:
        """Beside the dialer's loops until they stop; a carrier with calls to end ends them then."""
        return None

    async def close(self) -> None:
        """At the dialer's close, after its loops."""
        return None


class SimCarrier(Carrier):
    """Rings and talks for the rule's virtual seconds on the shared clock. With detection asked
    for, it decides at once who answered (the rule's `answeredBy`) and says so after the rule's
    `amdDecisionSeconds`; a machine then hangs up (voicemail at the decision) or is left the
    message (voicemail, its say chain for the rule's `talkSeconds`)."""

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
        amd = _detected(plan) if voicemail.listens(call.answering_machine) else None
        what = voicemail.handling(call.answering_machine, amd.result if amd is not None else None)
        if what == Handling.FLOW:
            node_ids = walk_flow(call.flow, plan.digits) if call.flow is not None else []
            await self.clock.sleep(plan.talk_seconds)
            return CallOutcome(plan.outcome, started, rang_until, rang_until + timedelta(seconds=plan.talk_seconds),
                               int(round(plan.talk_seconds)), node_ids, amd=amd)
        # A machine: the line was up for the decision, and the message when one is left.
        up = plan.amd_decision_seconds
        node_ids = []
        if what == Handling.LEAVE_MESSAGE and call.flow is not None and call.answering_machine is not None:
            node_ids = list(_message(call.flow, call.answering_machine.message_node_id or ""))
            up += plan.talk_seconds
        await self.clock.sleep(up)
        return CallOutcome(voicemail.VOICEMAIL, started, rang_until, rang_until + timedelta(seconds=up),
                           int(round(up)), node_ids, amd=amd)


def _detected(plan: CallPlan) -> AmdResult:
    """The simulated detection: right, after the rule's decision time."""
    return AmdResult(plan.answered_by, int(round(plan.amd_decision_seconds * 1000)), {"simulated": True})


def _message(flow: Flow, node_id: str) -> tuple[str, ...]:
    """The message's node ids (the program checked the chain; a flow that is not one plays nothing)."""
    return message_chain(node_id, {n.id: NodeStep(n.type, n.next) for n in flow.nodes}) or ()


def load_sim_rules(path: str | None) -> SimRules:
    if not path:
        return parse_rules(None)
    return parse_rules(json.loads(Path(path).read_text()))


def make_carrier(settings: Settings, redis: Redis | None = None) -> Carrier:
    """The carrier named by CARRIER (default "sim"); the simulated one follows SIM_CARRIER_RULES,
    the SIP one (`sip`) the SIP_* settings, checked whole before anything starts."""
    name = settings.carrier
    if name == "sim":
        return SimCarrier(load_sim_rules(settings.sim_carrier_rules))
    if name == "sip":
        if redis is None:
            raise ValueError("CARRIER=sip needs Redis for the shared trunk limits")
        return make_sip_carrier(settings, redis)
    raise ValueError(f"unknown CARRIER {name!r}; available: sim, sip")


def make_sip_carrier(settings: Settings, redis: Redis) -> Carrier:
    """SipCarrier from SIP_TRUNKS, SIP_BIND, SIP_PUBLIC_ADDR, RTP_PORTS, SIP_RING_TIMEOUT_SECONDS,
    SIP_MAX_CALLS and PROMPT_CACHE_DIR; a bad value raises TrunkConfigError (one line)."""
    from services.dialer.adapters.prompts import Prompts
    from services.dialer.adapters.sip_carrier import SipCarrier, workers_for
    from services.dialer.adapters.sip_pool import rtp_slices
    from services.dialer.adapters.trunk_config import load_trunks
    from services.dialer.adapters.trunk_limits import TrunkLimits

    trunks = load_trunks(settings.env("SIP_TRUNKS"))
    if len(trunks) > MAX_SIP_TRUNKS:
        # One pjsua account per trunk in every line worker; the pjsua2 build holds 8 (it asserts on a 9th).
        raise TrunkConfigError(f"SIP_TRUNKS {settings.env('SIP_TRUNKS')}: {len(trunks)} trunks; at most {MAX_SIP_TRUNKS}")
    bind = parse_sip_bind(settings.env("SIP_BIND"))
    public_addr = parse_public_addr(settings.env("SIP_PUBLIC_ADDR"))
    rtp = parse_rtp_ports(settings.env("RTP_PORTS"))
    ring_timeout = parse_ring_timeout(settings.env("SIP_RING_TIMEOUT_SECONDS"))
    max_calls_text = settings.env("SIP_MAX_CALLS", str(DEFAULT_SIP_MAX_CALLS)).strip()
    if not max_calls_text.isdigit() or not 1 <= int(max_calls_text) <= MAX_SIP_MAX_CALLS:
        raise TrunkConfigError(f"SIP_MAX_CALLS: {max_calls_text!r} is not a whole number in 1..{MAX_SIP_MAX_CALLS}")
    max_calls = int(max_calls_text)
    workers = workers_for(max_calls)
    rtp_slices(*rtp, workers)  # raises when the range cannot hold every line
    if bind.port and bind.port + workers - 1 > 65535:
        raise TrunkConfigError(f"SIP_BIND: ports {bind.port}..{bind.port + workers - 1} (one per line worker) pass 65535")
    cache = Path(settings.env("PROMPT_CACHE_DIR", str(Path(tempfile.gettempdir()) / "outbound-prompts")))
    return SipCarrier(trunks=trunks, limits=TrunkLimits(redis), prompts=Prompts(cache), bind=bind,
                      public_addr=public_addr, rtp_ports=rtp, ring_timeout=ring_timeout, max_calls=max_calls,
                      grace_seconds=settings.grace_seconds)
