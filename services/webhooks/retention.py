"""Retention of deliveries: a delivered or failed delivery is kept `retention_days` after it was
created (30 by default, WEBHOOK_RETENTION_DAYS), long enough to look into what an endpoint
received last month; then it is deleted, and its event with it once no delivery refers to it.
A pending delivery is never deleted: the retry horizon (24 h) ends it first.

Every replica sweeps; a pass deletes at most `batch` rows per transaction (FOR UPDATE SKIP
LOCKED: replicas never wait for each other) and goes on at once while passes come back full.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from kernel import logs, loops
from services.webhooks.adapters import deliveries

log = logs.get("webhooks.retention")

RETENTION_DAYS = 30
SWEEP_EVERY_SECONDS = 3600.0


class DeliveryRetention:
    def __init__(self, engine: AsyncEngine, retention_days: float = RETENTION_DAYS, *, batch: int = 1000,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        if retention_days <= 0:
            raise ValueError("WEBHOOK_RETENTION_DAYS must be positive")
        self._engine = engine
        self._keep = timedelta(days=retention_days)
        self._batch = batch
        self._now = now

    async def sweep_once(self) -> int:
        """One pass: answers how many deliveries it deleted."""
        async with self._engine.begin() as conn:
            gone = await deliveries.forget_finished(conn, self._now() - self._keep, self._batch)
        if gone:
            log.info("old deliveries deleted", extra={"deliveries": gone})
        return gone

    async def forever(self) -> None:
        await loops.every(SWEEP_EVERY_SECONDS, self.sweep_once, log=log, what="delivery retention",
                          busy=lambda gone: gone >= self._batch)
