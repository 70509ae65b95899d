"""Background loops run by every replica: fire due triggers, republish unpublished ones."""

from __future__ import annotations

import asyncio

from kernel import logs
from kernel.loops import finish_current
from services.trigger.service import CLAIM_BATCH, TriggerService

log = logs.get("trigger.loops")

# Real seconds between evaluation ticks: keeps the lag from triggerAt to dial within a second or two.
TICK_SECONDS = 0.15
SWEEP_SECONDS = 2.0


async def evaluate_forever(service: TriggerService) -> None:
    while True:
        try:
            claimed = await finish_current(service.fire_due(CLAIM_BATCH))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The claimed ones stay unpublished; the sweeper publishes them once their lease ends.
            log.exception("trigger evaluation failed")
            claimed = 0
        if claimed < CLAIM_BATCH:
            await asyncio.sleep(TICK_SECONDS)


async def sweep_forever(service: TriggerService) -> None:
    while True:
        try:
            swept = await service.republish_unpublished(CLAIM_BATCH)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("republish sweep failed")
            swept = 0
        if swept < CLAIM_BATCH:
            await asyncio.sleep(SWEEP_SECONDS)
