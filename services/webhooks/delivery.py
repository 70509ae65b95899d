"""The delivery worker's use case: claim due deliveries, attempt them, record what happened.

Every replica runs it. Claims take rows with FOR UPDATE SKIP LOCKED under a lease (a replica
that dies mid-attempt leaves its rows due again when the lease ends), and at most
`per_endpoint` attempts per endpoint are under way in one replica, so a slow endpoint holds
back only its own deliveries. Attempts run concurrently and never inside a transaction.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import logs
from services.webhooks.adapters import deliveries
from services.webhooks.domain import backoff
from services.webhooks.domain.model import Claimed, Outcome

log = logs.get("webhooks.delivery")


class Transport(Protocol):
    async def send(self, claimed: Claimed) -> Outcome: ...


class DeliveryWorker:
    def __init__(self, engine: AsyncEngine, transport: Transport, policy: backoff.RetryPolicy, *,
                 per_endpoint: int = 4, batch: int = 100, lease_seconds: float = 60.0):
        self._engine = engine
        self._transport = transport
        self._policy = policy
        self._per_endpoint = per_endpoint
        self._batch = batch
        self._lease = timedelta(seconds=lease_seconds)
        self._in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    async def tick(self) -> int:
        """Claim what is due and start its attempts (not waiting for them); answers how many."""
        now = datetime.now(UTC)
        busy = {k: v for k, v in self._in_flight.items() if v > 0}
        room = self._batch - sum(busy.values())
        if room <= 0:
            return 0
        async with self._engine.begin() as conn:
            claimed = await deliveries.claim(conn, now, now + self._lease, room, self._per_endpoint, busy)
        for one in claimed:
            self._in_flight[one.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(one))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _attempt(self, claimed: Claimed) -> None:
        try:
            outcome = await self._transport.send(claimed)
            await self._record(claimed, outcome)
        except Exception:  # the lease brings it back: logged, not lost
            log.exception("delivery attempt failed", extra={"delivery_id": claimed.id})
        finally:
            self._in_flight[claimed.endpoint_id] -= 1
            if self._in_flight[claimed.endpoint_id] <= 0:
                del self._in_flight[claimed.endpoint_id]

    async def _record(self, claimed: Claimed, outcome: Outcome) -> None:
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            if outcome.delivered:
                await deliveries.record_success(conn, claimed, outcome, now)
                return
            due = backoff.next_attempt(self._policy, claimed.created_at, now, claimed.attempts + 1, random.random())
            await deliveries.record_failure(conn, claimed, outcome, due)

    async def drain(self) -> None:
        """Wait for the attempts under way (at shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))
