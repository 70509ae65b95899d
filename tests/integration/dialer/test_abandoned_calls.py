"""The sweep of abandoned calls (a dialer's lease lapsed mid-call) on a database of its own:
another dialer declares the call lost (unknown); the dialer holding it never does, since a
dialer that runs still has its calls even when a stall let their leases lapse."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from kernel import db
from services.dialer.adapters.call_repository import CallRepository
from services.dialer.domain.attempts import NewAttempt


async def test_a_dialer_never_declares_its_own_calls_lost(infra):
    engine = db.create_engine(infra.new_database(), "dialer", pool_size=2)
    try:
        calls = CallRepository(engine)
        attempt = NewAttempt(f"{uuid.uuid4()}:c:1", str(uuid.uuid4()), str(uuid.uuid4()), "c", "+212600000009", 1)
        now = datetime.now(UTC)
        assert (await calls.claim(attempt, "dialer-a", 0.1, 1, now)).kind == "place"
        assert await calls.mark_placing(attempt.attempt_id, "dialer-a", str(uuid.uuid4()), "+212500000001",
                                        attempt.attempt_id, now)
        await asyncio.sleep(0.3)  # the lease lapses
        assert await calls.finish_abandoned(now, spare="dialer-a") == []
        lost = await calls.finish_abandoned(now, spare="dialer-b")
        assert [(r.attempt_id, r.outcome) for r in lost] == [(attempt.attempt_id, "unknown")]
    finally:
        await engine.dispose()
