"""The dial.requested consumer: many calls at once, each message acked when its call ends.

Fetching never waits for a batch's slowest call: it asks for as many messages as there
are free channels and runs each as its own task. A heartbeat keeps long calls alive:
in_progress() on their messages, and the leases of their records and DID slots.

The replica's channels are announced (adapters.capacity_beacon) at start and on every beat, so
the execution service admits no more dial requests than the live dialers can carry; they are
withdrawn the moment shutdown begins. Redis trouble there never stops the consumer: the next
beat announces again.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kernel import jetstream, logs, loops, metrics
from outbound.execution.v1 import events_pb2 as execution_events
from services.dialer.adapters.capacity_beacon import CapacityBeacon
from services.dialer.placement import Placement, PoisonRequest
from services.dialer.recovery import Recovery

log = logs.get("dialer.consumer")

STREAM = jetstream.DIAL_STREAM
SUBJECT = "dial.requested"
DURABLE = jetstream.DIAL_CONSUMER
BACKOFF = (0.5, 1, 2, 5, 10, 30)
REDELIVERIES = metrics.redelivery_counter(DURABLE)
WITHDRAW_SECONDS = 2.0  # shutdown does not wait longer for Redis; the announcement then expires


@dataclass(frozen=True)
class ConsumerOptions:
    max_channels: int = 500
    ack_wait_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    fetch_timeout: float = 1.0
    shutdown_grace_seconds: float = 5.0


class DialConsumer:
    def __init__(self, js: JetStreamContext, placement: Placement, options: ConsumerOptions,
                 beacon: CapacityBeacon | None = None):
        # One missed beat must not let the announcement lapse while the replica is alive.
        if beacon is not None and beacon.ttl_seconds <= 2 * options.heartbeat_seconds:
            raise ValueError("the capacity beacon's TTL must exceed two heartbeats")
        self.js = js
        self.placement = placement
        self.options = options
        self.beacon = beacon
        self._announce_failing = False  # logged once per Redis outage, not once per beat
        self.inflight: dict[asyncio.Task, Msg] = {}
        self._freed = asyncio.Event()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        config = ConsumerConfig(
            durable_name=DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.options.ack_wait_seconds,
            # Unlimited: waiting for a free DID naks the message, which must never drop it.
            max_deliver=-1,
            filter_subject=SUBJECT,
            max_ack_pending=max(20_000, self.options.max_channels * 4),
        )
        return await self.js.pull_subscribe(SUBJECT, durable=DURABLE, stream=STREAM, config=config)

    async def run(self) -> None:
        psub = await self._subscribe()
        # Its first beat, at once, announces the channels.
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while True:
                free = self.options.max_channels - len(self.inflight)
                if free <= 0:
                    self._freed.clear()
                    await self._freed.wait()
                    continue
                try:
                    msgs = await psub.fetch(batch=min(free, 256), timeout=self.options.fetch_timeout)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except Exception as exc:  # connection trouble: the client reconnects by itself
                    log.warning("fetch failed", extra={"error": repr(exc)})
                    await asyncio.sleep(0.5)
                    continue
                if redelivered := sum(1 for m in msgs if jetstream.redeliveries(m) > 0):
                    REDELIVERIES(redelivered)
                for msg in msgs:
                    task = asyncio.create_task(self._one(msg))
                    self.inflight[task] = msg
                    metrics.DIAL_REQUESTS_IN_FLIGHT.inc()
                    task.add_done_callback(self._done)
        except asyncio.CancelledError:
            # Shutdown: no new request for this replica; calls under way get a grace period to
            # end (the heartbeat goes on meanwhile); the rest are handed back.
            await self._withdraw()
            tasks = list(self.inflight)
            if tasks:
                await asyncio.wait(tasks, timeout=self.options.shutdown_grace_seconds)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat
            # A pull subscription left behind would hold up the connection's drain.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await psub.unsubscribe()

    def _done(self, task: asyncio.Task) -> None:
        if self.inflight.pop(task, None) is not None:
            metrics.DIAL_REQUESTS_IN_FLIGHT.dec()
        self._freed.set()

    async def _one(self, msg: Msg) -> None:
        try:
            request = execution_events.DialRequested.FromString(msg.data)
            seq = msg.metadata.sequence.stream
            decision = await self.placement.handle(request, seq)
        except PoisonRequest as exc:
            log.error("poison dial request terminated", extra={"error": str(exc)})
            await _settle(msg.term())
            return
        except asyncio.CancelledError:
            attempt_id = _attempt_id(msg)
            if attempt_id:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.placement.expire_lease(attempt_id))
            await _settle(msg.nak())
            raise
        except Exception as exc:
            if _is_decode_error(exc):
                log.error("undecodable dial request terminated")
                await _settle(msg.term())
                return
            log.exception("dial request failed; will be redelivered")
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            await _settle(msg.nak(delay=BACKOFF[min(delivered - 1, len(BACKOFF) - 1)]))
            return
        if decision.action == "ack":
            await _settle(msg.ack())
        elif decision.action == "term":
            await _settle(msg.term())
        else:
            await _settle(msg.nak(delay=decision.delay))

    async def _heartbeat(self) -> None:
        await loops.every(self.options.heartbeat_seconds, self._beat, log=log, what="heartbeat")

    async def _beat(self) -> None:
        for msg in list(self.inflight.values()):
            await _settle(msg.in_progress())
        await self._announce()
        await self.placement.renew_leases()

    async def _announce(self) -> None:
        """Never raises and never holds the beat up past one heartbeat."""
        if self.beacon is None:
            return
        try:
            await asyncio.wait_for(self.beacon.announce(), self.options.heartbeat_seconds)
        except Exception as exc:
            if not self._announce_failing:
                log.warning("channels not announced; retried every heartbeat", extra={"error": repr(exc)})
            self._announce_failing = True
            return
        if self._announce_failing:
            log.info("channels announced again")
            self._announce_failing = False

    async def _withdraw(self) -> None:
        if self.beacon is None:
            return
        try:
            await asyncio.wait_for(self.beacon.withdraw(), WITHDRAW_SECONDS)
        except Exception as exc:
            log.warning("channels not withdrawn; they expire with their TTL", extra={"error": repr(exc)})


def _attempt_id(msg: Msg) -> str:
    with contextlib.suppress(Exception):
        return execution_events.DialRequested.FromString(msg.data).attempt_id
    return ""


def _is_decode_error(exc: Exception) -> bool:
    from google.protobuf.message import DecodeError

    return isinstance(exc, DecodeError)


async def _settle(awaitable) -> None:
    with contextlib.suppress(Exception):
        await awaitable


async def sweep_forever(recovery: Recovery, interval: float) -> None:
    """Finish calls abandoned by a dead dialer and retry failed settlements."""
    await loops.every(interval, recovery.sweep, log=log, what="sweep")
