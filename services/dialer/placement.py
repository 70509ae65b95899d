"""Placing the call of one dial request: de-duplicate, pick a DID, reserve credits, call, record.

The call record of an attempt id is claimed before anything else, so whatever the
message delivery does (duplicates, redelivery after a crash, several replicas), one
attempt id gets at most one call.

No call is handed to the carrier past the request's deadline (`not_after`) or through a
closed execution gate: the gate is checked atomically with taking the DID slot, and once more
as the very last step before the carrier (after the credit and the record, which may wait
under load). That last answer is trusted only if it arrived fresh: one that took longer than
GATE_FRESH_SECONDS to come back (a stalled or starved process) may predate a stop, and the gate
is read again. Such a request is answered call.not_placed and consumes no attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, replace
from datetime import datetime

from campaign_rules import answering_machine
from campaign_rules.answering_machine import AnsweringMachine
from campaign_rules.limits import CREDITS_PER_CALL
from kernel import errors, ids, logs, metrics
from kernel.clock import get_clock
from kernel.timefmt import parse_optional
from outbound.execution.v1 import events_pb2 as execution_events
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.adapters.carrier import CallNotPlaced, CallOutcome, CallRequest, Carrier
from services.dialer.adapters.did_repository import DidRepository
from services.dialer.adapters.did_slots import DidSlots, GateClosed, GateUnreadable
from services.dialer.adapters.flow_repository import FlowRepository
from services.dialer.adapters.peers import Accounts
from services.dialer.adapters.publisher import ResultPublisher
from services.dialer.domain import attempts, optout, voicemail
from services.dialer.domain.attempts import CallRecord, NewAttempt, Verdict
from services.dialer.domain.billing import reservation_id
from services.dialer.domain.did_choice import DidInfo, preferred_group
from services.dialer.domain.flows import Flow
from services.dialer.settlement import Settlement

log = logs.get("dialer.placement")

# Real seconds: the last gate answer before the carrier counts only if it came back this fast,
# so a call starts at most this long after its gate closed, whatever stalled the dialer.
GATE_FRESH_SECONDS = 0.2
GATE_READS = 3  # stale answers in a row: the gate counts as unreadable


@dataclass(frozen=True)
class Decision:
    """What to do with the message: ack, nak after `delay` seconds, or term (poison)."""

    action: str
    delay: float = 0.0
    why: str = ""


ACK = Decision("ack")


def nak(delay: float, why: str) -> Decision:
    return Decision("nak", delay, why)


class PoisonRequest(ValueError):
    pass


def check_request(req: execution_events.DialRequested) -> NewAttempt:
    if not req.attempt_id:
        raise PoisonRequest("attempt_id missing")
    org = ids.canonical(req.organization_id)
    if org is None:
        raise PoisonRequest("organization_id is not a UUID")
    if not req.phone or not req.execution_id:
        raise PoisonRequest("phone or execution_id missing")
    return NewAttempt(attempt_id=req.attempt_id, execution_id=req.execution_id, organization_id=org,
                      contact_id=req.contact_id, phone=req.phone, attempt=max(1, req.attempt))


class Placement:
    """Places the calls of dial requests; the consumer's heartbeat and shutdown go through
    `renew_leases` and `expire_lease`."""

    def __init__(self, *, calls: CallRepository, dids: DidRepository, flows: FlowRepository,
                 slots: DidSlots, accounts: Accounts, carrier: Carrier, publisher: ResultPublisher,
                 settlement: Settlement, owner: str, did_cap: int, lease_seconds: float):
        self._calls = calls
        self._dids = dids
        self._flows = flows
        self._slots = slots
        self._accounts = accounts
        self._carrier = carrier
        self._publisher = publisher
        self._settlement = settlement
        self._owner = owner
        self._did_cap = did_cap
        self._lease_seconds = lease_seconds
        # attempt id → DID slot held (None until one is taken); renewed by the heartbeat.
        self._live: dict[str, str | None] = {}
        self._flow_cache: dict[tuple[str, str], Flow | None] = {}

    async def renew_leases(self) -> None:
        """Extend the leases of the records and DID slots of the calls under way (the heartbeat)."""
        live = dict(self._live)
        await self._calls.renew(list(live), self._owner, self._lease_seconds)
        await self._slots.renew([(did, aid) for aid, did in live.items() if did])

    async def expire_lease(self, attempt_id: str) -> None:
        """This dialer stops working on the attempt now (shutdown): the next delivery takes it."""
        await self._calls.expire_lease(attempt_id, self._owner)

    async def handle(self, req: execution_events.DialRequested, stream_seq: int) -> Decision:
        attempt = check_request(req)
        # The pool's DIDs are read while the attempt is claimed (a read, no side effect): one
        # round trip less before the call.
        pool = asyncio.ensure_future(self._pool(req, attempt.organization_id))
        try:
            return await self._handle(req, attempt, stream_seq, pool)
        finally:
            if not pool.done():
                pool.cancel()
            elif not pool.cancelled():
                pool.exception()  # retrieved: a failed lookup of an unused pool is not an error

    async def _handle(self, req: execution_events.DialRequested, attempt: NewAttempt, stream_seq: int,
                      pool: asyncio.Future[list[DidInfo]]) -> Decision:
        claim = await self._calls.claim(attempt, self._owner, self._lease_seconds, stream_seq, get_clock().now())
        record = claim.record
        if claim.kind in (Verdict.FINISHED, Verdict.ABANDONED):
            # The call happened (or was lost mid-call): its result may not have reached anyone.
            await self._settlement.settle(record)
            await self._publisher.publish(record, answering=stream_seq if claim.kind == Verdict.FINISHED else None,
                                          opted_out=await self._opted_out(req, record),
                                          reached=voicemail.reached(_answering_machine(req), record.outcome,
                                                                    record.amd, record.node_ids))
            return ACK
        if claim.kind == Verdict.REJECTED:
            await self._publisher.publish(record)
            return ACK
        if claim.kind == Verdict.BUSY:
            return nak(2.0 + random.random(), "attempt busy elsewhere")
        self._live[attempt.attempt_id] = None
        try:
            return await self._place(req, attempt, record, stream_seq, await pool)
        except Exception:
            # Before a call starts the attempt is handed back at once; a started one is
            # already finished or stays with this dialer's lease.
            with contextlib.suppress(Exception):
                await self._calls.release_claim(attempt.attempt_id, self._owner)
            raise
        finally:
            self._live.pop(attempt.attempt_id, None)

    async def _pool(self, req: execution_events.DialRequested, org: str) -> list[DidInfo]:
        did_ids = [d for d in (ids.canonical(x) for x in req.did_pool) if d]
        rows = await self._dids.get_many(did_ids)
        pool = []
        for did_id in did_ids:
            row = rows.get(did_id)
            if row is None or row.organization_id not in (None, org):
                continue
            pool.append(DidInfo(row.id, row.number, row.country, row.status == "active", row.deleted))
        return pool

    async def _flow(self, org: str, flow_id: str) -> Flow | None:
        key = (org, flow_id)
        if key not in self._flow_cache:
            fid = ids.canonical(flow_id)
            row = await self._flows.get(org, fid) if fid else None
            if row is None:
                return None  # not cached: an unknown id may be a flow not yet visible
            if len(self._flow_cache) > 10_000:
                self._flow_cache.clear()
            self._flow_cache[key] = row.flow  # flows are immutable
        return self._flow_cache[key]

    async def _opted_out(self, req: execution_events.DialRequested, record: CallRecord) -> bool:
        """A result published again says what the first said: the same flow (immutable) and nodes."""
        if not record.node_ids:
            return False
        return optout.opted_out(await self._flow(record.organization_id, req.flow_id), record.node_ids)

    async def _reject(self, attempt: NewAttempt, reason: str, stream_seq: int,
                      outcome: str = attempts.REJECTED_OUTCOME) -> Decision:
        record = await self._calls.reject(attempt.attempt_id, self._owner, reason, stream_seq, get_clock().now(),
                                          outcome)
        if record is None:
            return nak(1.0, "lost the attempt")
        log.info("call not placed" if outcome == attempts.NOT_PLACED else "call rejected",
                 extra={"attempt_id": attempt.attempt_id, "reason": reason})
        await self._publisher.publish(record)
        return ACK

    async def _not_placed(self, attempt: NewAttempt, reason: str, stream_seq: int) -> Decision:
        return await self._reject(attempt, reason, stream_seq, attempts.NOT_PLACED)

    async def _place(self, req: execution_events.DialRequested, attempt: NewAttempt, record: CallRecord,
                     stream_seq: int, pool: list[DidInfo]) -> Decision:
        group, candidates = preferred_group(pool, req.country)
        if not candidates:
            return await self._reject(attempt, "no_did", stream_seq)
        flow = await self._flow(attempt.organization_id, req.flow_id)
        deadline = parse_optional(req.not_after)
        if _past(deadline):
            return await self._not_placed(attempt, "deadline_passed", stream_seq)
        # Through the gate, then round-robin from the group's next turn (domain.did_choice.rotation),
        # atomically in Redis.
        try:
            did_id = await self._slots.acquire_in_turn(attempt.execution_id, group, [d.id for d in candidates],
                                                       attempt.attempt_id, self._did_cap)
        except GateClosed:
            return await self._not_placed(attempt, "execution_not_running", stream_seq)
        if did_id is None:
            await self._calls.release_claim(attempt.attempt_id, self._owner)
            return nak(1.0 + random.random(), "every DID at its cap")
        did = next(d for d in candidates if d.id == did_id)
        self._live[attempt.attempt_id] = did_id
        try:
            reservation = reservation_id(record.attempt_id, record.rejections)
            try:
                reserved = await self._accounts.reserve(attempt.organization_id, reservation, CREDITS_PER_CALL)
            except errors.DomainError as exc:
                log.warning("credit reservation failed", extra={"attempt_id": attempt.attempt_id,
                                                                 "error": exc.name})
                await self._calls.release_claim(attempt.attempt_id, self._owner)
                return nak(2.0, "account service unavailable")
            if not reserved:
                return await self._reject(attempt, "no_credits", stream_seq)
            started = get_clock().now()
            if not await self._calls.mark_placing(attempt.attempt_id, self._owner, did.id, did.number,
                                                  reservation, started):
                return nak(1.0, "lost the attempt")
            # The last step before the carrier: nothing awaited between this check and the call.
            why_not = await self._why_not_now(attempt.execution_id, deadline)
            if why_not:
                with contextlib.suppress(errors.DomainError):  # else the reservation expires by itself
                    await self._accounts.settle(reservation, 0)
                return await self._not_placed(attempt, why_not, stream_seq)
            placing = replace(record, state=attempts.PLACING, owner=self._owner, did_id=did.id,
                              did_number=did.number, reservation_id=reservation, settled=False,
                              started_at=started, ended_at=None)
            try:
                setting = _answering_machine(req)
                outcome = await self._call(CallRequest(
                    attempt.attempt_id, attempt.phone, attempt.attempt, did.number, flow,
                    may_start=lambda: self._why_not_now(attempt.execution_id, deadline),
                    answering_machine=setting), started)
            except CallNotPlaced as exc:  # the carrier waited, and the call may no longer start
                with contextlib.suppress(errors.DomainError):
                    await self._accounts.settle(reservation, 0)
                return await self._not_placed(attempt, exc.reason, stream_seq)
            metrics.CALLS_PLACED.labels(outcome.outcome).inc()
            finished = await self._finish(attempt.attempt_id, outcome, placing)
            if finished is None:
                # Declared lost by another dialer, which published the result.
                return ACK
            # The result first: the execution waits for it, not for the charge (a settlement that
            # fails or is cut short is finished by the sweeper from the record).
            await self._publisher.publish(finished, opted_out=optout.opted_out(flow, finished.node_ids),
                                          reached=voicemail.reached(setting, finished.outcome, finished.amd,
                                                                    finished.node_ids))
            await self._settlement.settle(finished)
            return ACK
        finally:
            with contextlib.suppress(Exception):
                await self._slots.release(did_id, attempt.attempt_id)

    async def _why_not_now(self, execution_id: str, deadline: datetime | None) -> str:
        """Right before the call: the reason it may no longer start, or "" when it may."""
        for _ in range(GATE_READS):
            asked = time.monotonic()
            try:
                if not await self._slots.gate_open(execution_id):
                    return "execution_not_running"
            except GateUnreadable:
                # The record is `placing` already: left to its lease it would end `unknown` and cost
                # the contact an attempt that never reached the carrier.
                return "gate_unreadable"
            if time.monotonic() - asked <= GATE_FRESH_SECONDS:
                break  # nothing is awaited from here to the carrier
        else:
            return "gate_unreadable"
        if _past(deadline):
            return "deadline_passed"
        return ""

    async def _finish(self, attempt_id: str, outcome: CallOutcome, placing: CallRecord) -> CallRecord | None:
        # The call has happened: a brief database hiccup must not turn it into a lost call.
        for attempt in range(5):
            try:
                return await self._calls.finish(attempt_id, self._owner, outcome.outcome, outcome.started_at,
                                                outcome.answered_at, outcome.ended_at, outcome.talk_seconds,
                                                outcome.node_ids, placing=placing, sip_code=outcome.sip_code,
                                                q850_cause=outcome.q850_cause, amd=outcome.amd)
            except Exception:
                if attempt == 4:
                    raise
                log.warning("storing the call failed; retrying", extra={"attempt_id": attempt_id})
                await asyncio.sleep(1.0 + attempt)
        return None

    async def _call(self, call: CallRequest, started) -> CallOutcome:
        try:
            return await self._carrier.place(call)
        except CallNotPlaced:
            raise
        except errors.DomainError as exc:
            log.warning("carrier error", extra={"attempt_id": call.attempt_id, "error": exc.name})
        except Exception:
            log.exception("carrier failure", extra={"attempt_id": call.attempt_id})
        return CallOutcome("failed", started, None, get_clock().now(), 0, [])


def _answering_machine(req: execution_events.DialRequested) -> AnsweringMachine | None:
    """The request's answering-machine handling; None when it has none (or one that does not parse,
    which the program never lets through: the call then runs without detection)."""
    if not req.HasField("answering_machine"):
        return None
    try:
        return answering_machine.from_proto(req.answering_machine)
    except errors.ValidationError as exc:
        log.warning("dial request with an unreadable answeringMachine; no detection",
                    extra={"attempt_id": req.attempt_id, "error": str(exc)})
        return None


def _past(deadline: datetime | None) -> bool:
    return deadline is not None and get_clock().now() > deadline
