"""The sweeper: what a dialer that vanished (or stalled) left undone is finished by any replica.

A call whose dialer's lease ran out mid-call is recorded as unknown and published (never placed
a second time); a settlement that failed or was cut short is done again from the record. A
dialer never declares its own calls lost: coming back from a stall, its sweep may run before its
heartbeat, and the calls it still holds end with their real result.
"""

from __future__ import annotations

import contextlib

from kernel import logs
from kernel.clock import get_clock
from services.dialer.adapters.call_results import CallResults
from services.dialer.adapters.publisher import ResultPublisher
from services.dialer.settlement import Settlement

log = logs.get("dialer.placement")

# Real seconds a finished call's settlement is left to its own dialer before the sweeper does it.
SETTLE_AFTER_SECONDS = 10


class Recovery:
    def __init__(self, *, calls: CallResults, publisher: ResultPublisher, settlement: Settlement,
                 unknown_settle_seconds: float = 600.0, owner: str | None = None):
        self._calls = calls
        self._owner = owner
        self._publisher = publisher
        self._settlement = settlement
        self._unknown_settle_seconds = unknown_settle_seconds

    async def sweep(self) -> int:
        """Finish calls whose dialer vanished, and settle calls whose settlement failed."""
        done = 0
        for record in await self._calls.finish_abandoned(get_clock().now(), spare=self._owner):
            log.warning("call abandoned by its dialer; recorded as unknown", extra={"attempt_id": record.attempt_id})
            with contextlib.suppress(Exception):
                await self._publisher.publish(record)
            done += 1
        for record in await self._calls.unsettled(older_than_seconds=SETTLE_AFTER_SECONDS,
                                                  unknown_older_than_seconds=self._unknown_settle_seconds):
            if await self._settlement.settle(record, unknown=True):
                done += 1
        return done
