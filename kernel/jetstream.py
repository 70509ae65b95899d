"""NATS JetStream helpers: streams, de-duplicated publish, durable pull consumers.

Messages are hints, PostgreSQL is the truth: every consumer is idempotent, and every
message can be re-derived from rows, so at-least-once delivery is all we rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kernel import logs, tracing

log = logs.get("kernel.jetstream")

# Every stream of the system, with the subjects it keeps.
STREAMS: dict[str, list[str]] = {
    "DIAL": ["dial.>"],          # dial.requested            (execution → dialer)
    "CALLS": ["call.>"],         # call.completed            (dialer → execution)
    "CONTACTS": ["contact.>"],   # contact.created|updated|deleted (audience → trigger)
    "PROGRAMS": ["program.>"],   # program.archived          (program → execution)
    "EXECUTIONS": ["execution.>"],  # execution.launched|ended (execution → trigger)
    "TRIGGERS": ["trigger.>"],   # trigger.fired             (trigger → execution)
}
# The dial requests' stream and the durable consumer the dialers share: the execution service
# reads its backlog to keep the queue short (services/execution/domain/admission.py).
DIAL_STREAM = "DIAL"
DIAL_CONSUMER = "dialer"
DUPLICATE_WINDOW_SECONDS = 15 * 60
MAX_AGE_SECONDS = 7 * 24 * 3600


class PoisonMessage(Exception):
    """Raised by a handler for a message that can never succeed: it is terminated."""


async def connect(url: str, name: str) -> NATS:
    async def on_error(exc: Exception) -> None:
        log.warning("nats error", extra={"error": repr(exc)})

    return await nats.connect(
        servers=[u.strip() for u in url.split(",")],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        allow_reconnect=True,
        error_cb=on_error,
    )


async def ensure_streams(js: JetStreamContext, streams: dict[str, list[str]] | None = None) -> None:
    for name, subjects in (streams or STREAMS).items():
        config = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=MAX_AGE_SECONDS,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            try:
                await js.add_stream(config)
            except Exception:  # a concurrent replica created it first
                await js.stream_info(name)


async def publish(js: JetStreamContext, subject: str, payload: bytes, msg_id: str,
                  headers: dict[str, str] | None = None) -> None:
    """Publish with `Nats-Msg-Id`, so a republish inside the window is dropped by the server."""
    all_headers = {**tracing.inject(), "Nats-Msg-Id": msg_id, **(headers or {})}
    await js.publish(subject, payload, headers=all_headers, timeout=10)


async def publish_many(js: JetStreamContext, items: Iterable[tuple[str, bytes, str]],
                       timeout: float = 10.0) -> None:
    """Publish (subject, payload, msg_id) items without awaiting each ack in turn.

    Awaiting each publish in turn is capped by the round trip; here every message is sent
    at once and the acks are awaited together (the client bounds how many are pending).
    Raises the first failure after every publish has settled.
    """
    for failure in await publish_each(js, items, timeout):
        if failure is not None:
            raise failure


async def publish_each(js: JetStreamContext, items: Iterable[tuple[str, bytes, str]],
                       timeout: float = 10.0) -> list[Exception | None]:
    """Like publish_many, answering each item's failure (None when acknowledged), in order;
    an ack still missing after `timeout` seconds is a TimeoutError."""
    futures: list[asyncio.Future[Any]] = []
    try:
        for subject, payload, msg_id in items:
            headers = {**tracing.inject(), "Nats-Msg-Id": msg_id}
            futures.append(await js.publish_async(subject, payload, headers=headers))
        if not futures:
            return []
        _, pending = await asyncio.wait(futures, timeout=timeout)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    answers: list[Exception | None] = []
    for future in futures:
        if future in pending:
            future.cancel()
            answers.append(TimeoutError(f"publish not acknowledged in {timeout}s"))
        elif future.cancelled():
            answers.append(TimeoutError("publish cancelled"))
        else:
            exc = future.exception()
            answers.append(exc if isinstance(exc, Exception) or exc is None else RuntimeError(repr(exc)))
    return answers


@dataclass
class ConsumerSpec:
    stream: str
    durable: str
    filter_subject: str
    batch_size: int = 100
    ack_wait_seconds: float = 60.0
    max_deliver: int = 20
    # Redelivery back-off after a failed batch, in seconds (last value repeats).
    backoff: Sequence[float] = (0.5, 1, 2, 5, 10)
    fetch_timeout: float = 1.0


BatchHandler = Callable[[list[Msg]], Awaitable[None]]


async def _ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> JetStreamContext.PullSubscription:
    config = ConsumerConfig(
        durable_name=spec.durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=spec.ack_wait_seconds,
        max_deliver=spec.max_deliver,
        filter_subject=spec.filter_subject,
        max_ack_pending=max(1000, spec.batch_size * 20),
    )
    return await js.pull_subscribe(spec.filter_subject, durable=spec.durable, stream=spec.stream, config=config)


def redeliveries(msg: Msg) -> int:
    with contextlib.suppress(Exception):
        return max(0, msg.metadata.num_delivered - 1)
    return 0


async def run_pull_consumer(js: JetStreamContext, spec: ConsumerSpec, handle: BatchHandler,
                            stopping: asyncio.Event | None = None,
                            on_redelivery: Callable[[int], None] | None = None) -> None:
    """Fetch batches and hand them to `handle`; ack what it accepted, nak the rest.

    The handler may `term()` a message itself (poison) or raise PoisonMessage when the
    batch holds one message. Any other exception naks the whole batch with back-off:
    handlers are idempotent, so redoing the accepted part is harmless.
    """
    psub = await _ensure_consumer(js, spec)
    stopping = stopping or asyncio.Event()
    while not stopping.is_set():
        try:
            msgs = await psub.fetch(batch=spec.batch_size, timeout=spec.fetch_timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # connection trouble: the client reconnects by itself
            log.warning("fetch failed", extra={"consumer": spec.durable, "error": repr(exc)})
            await asyncio.sleep(0.5)
            continue
        if on_redelivery is not None:
            again = sum(1 for m in msgs if redeliveries(m) > 0)
            if again:
                on_redelivery(again)
        try:
            # A batch continues the trace of its first message (a batch of one: exactly its trace).
            with tracing.span_from(msgs[0].headers if msgs else None, f"consume {spec.durable}"):
                await handle(msgs)
        except PoisonMessage as exc:
            log.error("poison message terminated", extra={"consumer": spec.durable, "error": str(exc)})
            for msg in msgs:
                if not msg._ackd:
                    await _settle(msg.term())
            continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed; batch will be redelivered", extra={"consumer": spec.durable})
            for msg in msgs:
                if not msg._ackd:
                    attempt = redeliveries(msg)
                    delay = spec.backoff[min(attempt, len(spec.backoff) - 1)]
                    await _settle(msg.nak(delay=delay))
            continue
        for msg in msgs:
            if not msg._ackd:
                await _settle(msg.ack())


async def _settle(awaitable: Awaitable[None]) -> None:
    with contextlib.suppress(Exception):
        await awaitable


async def close(nc: NATS) -> None:
    """Flush what was published, then close. (drain() would wait out its timeout on the pull
    subscriptions of consumers that have already stopped.)"""
    with contextlib.suppress(Exception):
        await nc.flush(timeout=2)
    await nc.close()
