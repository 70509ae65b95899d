"""Placing the call of one dial request: de-duplicate, pick a DID, reserve credits, call, record.

The call record of an attempt id is claimed before anything else, so whatever the
message delivery does (duplicates, redelivery after a crash, several replicas), one
attempt id gets at most one call.

No call is handed to the carrier past the request's deadline (`not_after`) or through a
closed execution gate: the gate is checked atomically with taking the DID slot, and once more
as the very last step before the carrier (after the credit and the record, which may wait
under load). Such a request is answered call.not_placed and consumes no attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, replace
from datetime import datetime

from kernel import errors, logs, metrics
from kernel.clock import get_clock
from kernel.timefmt import parse_optional
from outbound.execution.v1 import events_pb2 as execution_events
from services.dialer.adapters.accounts import Accounts
from services.dialer.adapters.call_repository import CallRecord, CallRepository, NewAttempt
from services.dialer.adapters.carrier import CallOutcome, CallRequest, Carrier
from services.dialer.adapters.did_repository import DidRepository
from services.dialer.adapters.did_slots import DidSlots, GateClosed
from services.dialer.adapters.flow_repository import FlowRepository
from services.dialer.adapters.publisher import ResultPublisher
from services.dialer.domain.billing import billable_minutes
from services.dialer.domain.did_choice import DidInfo, preferred_group
from services.dialer.domain.flows import Flow
from services.dialer.domain.ids import as_uuid

log = logs.get("dialer.placement")

CREDITS_PER_CALL = 1  # the available balance must cover one minute
NOT_PLACED = "not_placed"


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
    org = as_uuid(req.organization_id)
    if org is None:
        raise PoisonRequest("organization_id is not a UUID")
    if not req.phone or not req.execution_id:
        raise PoisonRequest("phone or execution_id missing")
    return NewAttempt(attempt_id=req.attempt_id, execution_id=req.execution_id, organization_id=org,
                      contact_id=req.contact_id, phone=req.phone, attempt=max(1, req.attempt))


def reservation_id(record: CallRecord) -> str:
    """The attempt id; after a rejection a fresh id, so the account's answer is not replayed."""
    return record.attempt_id if record.rejections == 0 else f"{record.attempt_id}:{record.rejections}"


class Placement:
    def __init__(self, *, calls: CallRepository, dids: DidRepository, flows: FlowRepository,
                 slots: DidSlots, accounts: Accounts, carrier: Carrier, publisher: ResultPublisher,
                 owner: str, did_cap: int, lease_seconds: float, unknown_settle_seconds: float = 600.0):
        self.calls = calls
        self.dids = dids
        self.flows = flows
        self.slots = slots
        self.accounts = accounts
        self.carrier = carrier
        self.publisher = publisher
        self.owner = owner
        self.did_cap = did_cap
        self.lease_seconds = lease_seconds
        self.unknown_settle_seconds = unknown_settle_seconds
        # attempt id → DID slot held (None until one is taken); renewed by the heartbeat.
        self.live: dict[str, str | None] = {}
        self._flow_cache: dict[tuple[str, str], Flow | None] = {}

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
        claim = await self.calls.claim(attempt, self.owner, self.lease_seconds, stream_seq, get_clock().now())
        record = claim.record
        if claim.kind in ("finished", "abandoned"):
            # The call happened (or was lost mid-call): its result may not have reached anyone.
            await self.settle(record)
            await self.publisher.publish(record, answering=stream_seq if claim.kind == "finished" else None)
            return ACK
        if claim.kind == "rejected":
            await self.publisher.publish(record)
            return ACK
        if claim.kind == "busy":
            return nak(2.0 + random.random(), "attempt busy elsewhere")
        self.live[attempt.attempt_id] = None
        try:
            return await self._place(req, attempt, record, stream_seq, await pool)
        except Exception:
            # Before a call starts the attempt is handed back at once; a started one is
            # already finished or stays with this dialer's lease.
            with contextlib.suppress(Exception):
                await self.calls.release_claim(attempt.attempt_id, self.owner)
            raise
        finally:
            self.live.pop(attempt.attempt_id, None)

    async def _pool(self, req: execution_events.DialRequested, org: str) -> list[DidInfo]:
        ids = [d for d in (as_uuid(x) for x in req.did_pool) if d]
        rows = await self.dids.get_many(ids)
        pool = []
        for did_id in ids:
            row = rows.get(did_id)
            if row is None or row.organization_id not in (None, org):
                continue
            pool.append(DidInfo(row.id, row.number, row.country, row.status == "active", row.deleted))
        return pool

    async def _flow(self, org: str, flow_id: str) -> Flow | None:
        key = (org, flow_id)
        if key not in self._flow_cache:
            fid = as_uuid(flow_id)
            row = await self.flows.get(org, fid) if fid else None
            if row is None:
                return None  # not cached: an unknown id may be a flow not yet visible
            if len(self._flow_cache) > 10_000:
                self._flow_cache.clear()
            self._flow_cache[key] = row.flow  # flows are immutable
        return self._flow_cache[key]

    async def _reject(self, attempt: NewAttempt, reason: str, stream_seq: int, outcome: str = "rejected") -> Decision:
        record = await self.calls.reject(attempt.attempt_id, self.owner, reason, stream_seq, get_clock().now(),
                                         outcome)
        if record is None:
            return nak(1.0, "lost the attempt")
        log.info("call not placed" if outcome == NOT_PLACED else "call rejected",
                 extra={"attempt_id": attempt.attempt_id, "reason": reason})
        await self.publisher.publish(record)
        return ACK

    async def _not_placed(self, attempt: NewAttempt, reason: str, stream_seq: int) -> Decision:
        return await self._reject(attempt, reason, stream_seq, NOT_PLACED)

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
            did_id = await self.slots.acquire_in_turn(attempt.execution_id, group, [d.id for d in candidates],
                                                      attempt.attempt_id, self.did_cap)
        except GateClosed:
            return await self._not_placed(attempt, "execution_not_running", stream_seq)
        if did_id is None:
            await self.calls.release_claim(attempt.attempt_id, self.owner)
            return nak(1.0 + random.random(), "every DID at its cap")
        did = next(d for d in candidates if d.id == did_id)
        self.live[attempt.attempt_id] = did_id
        try:
            reservation = reservation_id(record)
            try:
                reserved = await self.accounts.reserve(attempt.organization_id, reservation, CREDITS_PER_CALL)
            except errors.DomainError as exc:
                log.warning("credit reservation failed", extra={"attempt_id": attempt.attempt_id,
                                                                 "error": exc.name})
                await self.calls.release_claim(attempt.attempt_id, self.owner)
                return nak(2.0, "account service unavailable")
            if not reserved:
                return await self._reject(attempt, "no_credits", stream_seq)
            started = get_clock().now()
            if not await self.calls.mark_placing(attempt.attempt_id, self.owner, did.id, did.number,
                                                 reservation, started):
                return nak(1.0, "lost the attempt")
            # The last step before the carrier: nothing awaited between this check and the call.
            why_not = await self._why_not_now(attempt.execution_id, deadline)
            if why_not:
                with contextlib.suppress(errors.DomainError):  # else the reservation expires by itself
                    await self.accounts.settle(reservation, 0)
                return await self._not_placed(attempt, why_not, stream_seq)
            placing = replace(record, state="placing", owner=self.owner, did_id=did.id, did_number=did.number,
                              reservation_id=reservation, settled=False, started_at=started, ended_at=None)
            outcome = await self._call(CallRequest(attempt.attempt_id, attempt.phone, attempt.attempt,
                                                   did.number, flow), started)
            metrics.CALLS_PLACED.labels(outcome.outcome).inc()
            finished = await self._finish(attempt.attempt_id, outcome, placing)
            if finished is None:
                # Declared lost by another dialer, which published the result.
                return ACK
            # The result first: the execution waits for it, not for the charge (a settlement that
            # fails or is cut short is finished by the sweeper from the record).
            await self.publisher.publish(finished)
            await self.settle(finished)
            return ACK
        finally:
            with contextlib.suppress(Exception):
                await self.slots.release(did_id, attempt.attempt_id)

    async def _why_not_now(self, execution_id: str, deadline: datetime | None) -> str:
        """Right before the call: the reason it may no longer start, or "" when it may."""
        if not await self.slots.gate_open(execution_id):
            return "execution_not_running"
        if _past(deadline):
            return "deadline_passed"
        return ""

    async def _finish(self, attempt_id: str, outcome: CallOutcome, placing: CallRecord) -> CallRecord | None:
        # The call has happened: a brief database hiccup must not turn it into a lost call.
        for attempt in range(5):
            try:
                return await self.calls.finish(attempt_id, self.owner, outcome.outcome, outcome.started_at,
                                               outcome.answered_at, outcome.ended_at, outcome.talk_seconds,
                                               outcome.node_ids, placing=placing)
            except Exception:
                if attempt == 4:
                    raise
                log.warning("storing the call failed; retrying", extra={"attempt_id": attempt_id})
                await asyncio.sleep(1.0 + attempt)
        return None

    async def _call(self, call: CallRequest, started) -> CallOutcome:
        try:
            return await self.carrier.place(call)
        except errors.DomainError as exc:
            log.warning("carrier error", extra={"attempt_id": call.attempt_id, "error": exc.name})
        except Exception:
            log.exception("carrier failure", extra={"attempt_id": call.attempt_id})
        return CallOutcome("failed", started, None, get_clock().now(), 0, [])

    async def settle(self, record: CallRecord, *, unknown: bool = False) -> bool:
        """Charge the finished call (once: the account settles idempotently by reservation id).

        A call of unknown outcome keeps its reservation until the sweeper gives up waiting for
        its real result (`unknown`): a late answered call is then still charged."""
        if record.settled or not record.reservation_id or record.state != "finished":
            return True
        if record.outcome == "unknown" and not unknown:
            return True
        amount = billable_minutes(record.outcome == "answered", record.talk_seconds)
        try:
            await self.accounts.settle(record.reservation_id, amount)
        except errors.DomainError as exc:
            if not isinstance(exc, errors.NotFoundError):
                log.warning("settlement failed; will retry",
                            extra={"attempt_id": record.attempt_id, "error": exc.name})
                return False
        await self.calls.mark_settled(record.attempt_id)
        record.settled = True
        return True

    async def sweep(self) -> int:
        """Finish calls whose dialer vanished, and settle calls whose settlement failed."""
        done = 0
        for record in await self.calls.finish_abandoned(get_clock().now()):
            log.warning("call abandoned by its dialer; recorded as unknown", extra={"attempt_id": record.attempt_id})
            with contextlib.suppress(Exception):
                await self.publisher.publish(record)
            done += 1
        for record in await self.calls.unsettled(older_than_seconds=10,
                                                 unknown_older_than_seconds=self.unknown_settle_seconds):
            if await self.settle(record, unknown=True):
                done += 1
        return done


def _past(deadline: datetime | None) -> bool:
    return deadline is not None and get_clock().now() > deadline
