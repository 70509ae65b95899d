"""The SIP trunk carrier (CARRIER=sip): places each call through a trunk with a line worker.

A call goes out on the first trunk that takes the number's country, is not skipped and has room
in the shared limits (waiting, never failing, while none has); its prompts are rendered first,
so the line plays files only. A trunk that answers 503, does not answer at all or fails at the
transport level is skipped for a while and the call tries the next trunk at once. A call refused
on our own host (no line, makeCall refused) skips no trunk: it is not placed (`line_failed`,
the attempt given back) unless an earlier trunk already had it. The outcome
comes from the SIP outcome table; its instants are the campaign clock's at the INVITE plus the
real seconds that followed, and talk time is the real time from answer to BYE. With detection
asked for (`answeringMachine.detect`), the line listens before the flow (adapters.sip_amd) and
reports what it decided: an answered call a machine took and that was hung up on or left the
message is a `voicemail` (domain.voicemail), with the decision as `CallOutcome.amd`.

On shutdown no INVITE leaves any more; calls under way run until the grace deadline, then get
BYE (or CANCEL) and are reported with what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError

from campaign_rules import answering_machine
from kernel.clock import Clock, get_clock
from services.dialer.adapters.carrier import CallNotPlaced, CallOutcome, CallRequest, Carrier
from services.dialer.adapters.sip_pool import LINES, Ended, LinePool
from services.dialer.adapters.trunk_limits import TrunkLimits
from services.dialer.domain import sip_outcomes, voicemail
from services.dialer.domain.flows import Flow
from services.dialer.domain.trunk_choice import Skips, candidates, country_of, serving, skips_trunk
from services.dialer.domain.trunks import Address, Trunk
from services.dialer.domain.voicemail import AmdResult, Handling

log = logging.getLogger(__name__)

# Real seconds a call's trunk slot lives without renewal; renewed every third of it.
TRUNK_LEASE_SECONDS = 60.0
ROOM_POLL_SECONDS = (0.02, 0.25)  # first and longest wait between asks for trunk room
MAX_CACHED_PROMPTS = 10_000  # prompt → file path, kept in memory (the files stay cached on disk)


class PromptSource(Protocol):
    """What renders prompts to 8 kHz WAV files (adapters.prompts.Prompts)."""

    def render(self, text: str) -> Path: ...

    def audio(self, audio_id: str) -> Path | None: ...


class CarrierClosed(CallNotPlaced):
    """The dialer is stopping: no new INVITE leaves."""

    def __init__(self) -> None:
        super().__init__("dialer_stopping")


def workers_for(max_calls: int) -> int:
    return max(1, math.ceil(max_calls / LINES))


class SipCarrier(Carrier):
    def __init__(self, *, trunks: tuple[Trunk, ...], limits: TrunkLimits, prompts: PromptSource,
                 bind: Address, public_addr: str | None, rtp_ports: tuple[int, int], ring_timeout: float,
                 max_calls: int, grace_seconds: float = 5.0, clock: Clock | None = None):
        self.trunks = trunks
        self.limits = limits
        self.prompts = prompts
        self.ring_timeout = ring_timeout
        self.grace_seconds = grace_seconds
        self.clock = clock or get_clock()
        self.pool = LinePool(workers_for(max_calls), bind, public_addr, rtp_ports, trunks)
        self.skips = Skips()
        self._wavs: dict[tuple[str, str], str] = {}
        self._unserved: set[str | None] = set()  # countries already logged as served by no trunk
        self._limits_down = False  # the last ask for trunk room failed on Redis (logged once)
        self._closing = asyncio.Event()
        self._closed: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.pool.start()

    async def run_until_stopped(self) -> None:
        """Runs beside the dialer's loops; their cancellation (SIGTERM) closes the carrier."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """No new INVITE; calls under way get the grace period, then BYE; the workers stop.
        Called twice (SIGTERM, then the dialer's close), it runs once."""
        if self._closed is None:
            self._closed = asyncio.create_task(self._close())
        await asyncio.shield(self._closed)

    async def _close(self) -> None:
        self._closing.set()
        # BYE a little before the dialer's own grace ends, so the reports still reach the records.
        await self.pool.wait_idle(self.grace_seconds - min(1.0, self.grace_seconds / 4))
        self.pool.stop_all()
        await self.pool.close()

    async def place(self, call: CallRequest) -> CallOutcome:
        flow = await self._steps(call.flow) if call.flow is not None else None
        country = country_of(call.phone)
        if not serving(self.trunks, country):
            # `failed`, which the strategy retries in vain; not placed would be dispatched again
            # forever. Logged once per country, not once per call.
            if country not in self._unserved:
                self._unserved.add(country)
                log.warning("no SIP trunk takes the number's country", extra={"country": country})
            now = self.clock.now()
            return CallOutcome(sip_outcomes.FAILED, now, None, now, 0, [])
        tried: set[str] = set()
        last: CallOutcome | None = None
        while True:
            trunk = await self._take_trunk(call.attempt_id, country, tried, give_up=last is not None)
            if trunk is None:
                assert last is not None
                return last
            tried.add(trunk.name)
            try:
                ended, started, base = await self._call(call, trunk, flow)
            finally:
                with contextlib.suppress(Exception):
                    await self.limits.release(trunk, call.attempt_id)
            if ended.local_error:
                log.warning("SIP call refused by its line", extra={"trunk": trunk.name, "error": ended.error})
                if last is None:
                    raise CallNotPlaced("line_failed")  # nothing left our host
                return last
            last = self._outcome(ended, started, base, call)
            # A lost call (its worker died) may have reached the callee: never placed again.
            if ended.answered or ended.lost or not self._trunk_failed(ended):
                return last
            self.skips = self.skips.skip(trunk.name, time.monotonic())
            log.warning("SIP trunk skipped", extra={"trunk": trunk.name, "sip_code": ended.sip_code,
                                                    "transport_error": ended.transport_error})

    @staticmethod
    def _trunk_failed(ended: Ended) -> bool:
        """503, no response at all, or a transport error: the trunk failed, not the callee."""
        if ended.transport_error or not ended.responded:
            return True
        return ended.sip_code is not None and skips_trunk(ended.sip_code)

    async def _take_trunk(self, call_id: str, country: str | None, tried: set[str], give_up: bool) -> Trunk | None:
        """The first candidate trunk with room (waiting while every one is full or skipped);
        None once a trunk failed this call and no other is left to try now."""
        pause = ROOM_POLL_SECONDS[0]
        while True:
            if self._closing.is_set():
                if give_up:
                    return None  # the attempt already made is the call's outcome
                raise CarrierClosed()
            options = [t for t in candidates(self.trunks, country, self.skips, time.monotonic())
                       if t.name not in tried]
            if not options and give_up:
                return None
            for trunk in options:
                if await self._room(trunk, call_id):
                    return trunk
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), pause)
            pause = min(pause * 2, ROOM_POLL_SECONDS[1])

    async def _room(self, trunk: Trunk, call_id: str) -> bool:
        """The trunk's shared limits gave this call a slot. Redis out of reach means no room is
        known: the call waits, as for a full trunk, rather than failing or going over the limits."""
        try:
            taken = await self.limits.acquire(trunk, call_id, TRUNK_LEASE_SECONDS)
        except (RedisError, OSError) as exc:
            if not self._limits_down:
                self._limits_down = True
                log.warning("trunk limits unreachable; calls wait", extra={"error": repr(exc)})
            return False
        if self._limits_down:
            self._limits_down = False
            log.info("trunk limits reachable again")
        return taken

    async def _call(self, call: CallRequest, trunk: Trunk, flow: dict[str, Any] | None
                    ) -> tuple[Ended, datetime, float]:
        did = call.did_number if call.did_number.startswith("+") else f"+{call.did_number}"
        number = call.phone if call.phone.startswith("+") else f"+{call.phone}"
        setting = call.answering_machine
        command = {"id": f"{call.attempt_id}:{uuid.uuid4().hex[:8]}", "trunk": trunk.name, "number": number,
                   "did": did, "ring_timeout": self.ring_timeout, "flow": flow,
                   "answering_machine": answering_machine.to_json(setting)
                   if setting is not None and voicemail.listens(setting) else None}
        sent = asyncio.Event()
        placing = asyncio.create_task(self.pool.call(command, sent, ready=self._last_check(call)))
        renew = asyncio.create_task(self._renew(trunk, call.attempt_id))
        waiting_sent = asyncio.create_task(sent.wait())
        try:
            # The INVITE's instant: when the command leaves for a line (after waiting for a free one).
            await asyncio.wait({placing, waiting_sent}, return_when=asyncio.FIRST_COMPLETED)
            started, base = self.clock.now(), time.monotonic()
            return await placing, started, base
        finally:
            waiting_sent.cancel()
            renew.cancel()
            if not placing.done():
                placing.cancel()

    def _last_check(self, call: CallRequest) -> Callable[[], Awaitable[None]]:
        """Run with a line in hand, right before the INVITE: the waits for trunk room and for a
        line may have outlasted a pause, a deadline or the dialer itself."""

        async def check() -> None:
            if self._closing.is_set():
                raise CarrierClosed()
            reason = await call.may_start() if call.may_start is not None else ""
            if reason:
                raise CallNotPlaced(reason)

        return check

    async def _renew(self, trunk: Trunk, call_id: str) -> None:
        while True:
            await asyncio.sleep(TRUNK_LEASE_SECONDS / 3)
            with contextlib.suppress(Exception):
                await self.limits.renew(trunk, call_id, TRUNK_LEASE_SECONDS)

    def _outcome(self, ended: Ended, started: datetime, base: float, call: CallRequest) -> CallOutcome:
        def at(instant: float) -> datetime:
            return started + timedelta(seconds=max(0.0, instant - base))

        responded = ended.responded or ended.answered
        code = ended.sip_code if responded else None
        amd = amd_result(ended.amd) if ended.answered else None
        if ended.answered and amd is not None and \
                voicemail.handling(call.answering_machine, amd.result) != Handling.FLOW:
            outcome = voicemail.VOICEMAIL
        elif ended.answered:
            outcome = sip_outcomes.ANSWERED
        else:
            # Nothing came back at all: the call never reached anyone, whatever we cancelled.
            outcome = sip_outcomes.outcome_for(code, we_cancelled=ended.we_cancelled and responded,
                                               transport_error=ended.transport_error)
        answered_at = at(ended.answered_at) if ended.answered and ended.answered_at is not None else None
        ended_at = at(ended.ended_at)
        talk = round(ended.ended_at - ended.answered_at) if answered_at and ended.answered_at else 0
        return CallOutcome(outcome, started, answered_at, ended_at, max(0, talk),
                           list(ended.node_ids) if ended.answered else [], sip_code=code,
                           q850_cause=sip_outcomes.parse_q850(ended.reason) if ended.reason else None, amd=amd)

    async def _steps(self, flow: Flow) -> dict[str, Any]:
        """The flow as a line walks it, every prompt rendered to a WAV file."""
        steps = []
        for node in flow.nodes:
            text = node.text if node.type in ("say", "optout") else node.prompt if node.type == "gather" else ""
            audio_id = getattr(node, "audio_id", "") or ""
            wav = await self._wav(text, audio_id) if (text or audio_id) else ""
            steps.append({"id": node.id, "type": node.type, "next": node.next, "wav": wav,
                          "options": dict(node.options), "no_input": node.no_input,
                          "timeout_seconds": node.timeout_seconds, "to": node.to})
        return {"start": flow.start_node_id, "steps": steps}

    async def _wav(self, text: str, audio_id: str) -> str:
        key = (text, audio_id)
        if key not in self._wavs:
            if audio_id:
                path = await asyncio.to_thread(self.prompts.audio, audio_id)
            else:
                path = await asyncio.to_thread(self.prompts.render, text)
            if path is None:
                return ""  # an audio file gone from the store: the node plays nothing
            if len(self._wavs) >= MAX_CACHED_PROMPTS:
                self._wavs.clear()
            self._wavs[key] = str(path)
        return self._wavs[key]


def amd_result(raw: dict[str, Any] | None) -> AmdResult | None:
    """A line's report of detection as the call record keeps it; None when nothing was decided."""
    if not raw or raw.get("result") not in voicemail.RESULTS:
        return None
    features = {k: v for k, v in dict(raw.get("features") or {}).items()
                if isinstance(v, (bool, int, float, str))}
    return AmdResult(str(raw["result"]), int(raw.get("decision_ms") or 0), features)
