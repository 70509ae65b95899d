"""Background loops run by every replica: fire due triggers, republish unpublished ones.

A failed unit is logged and retried by the next one: claimed triggers stay unpublished and the
sweeper publishes them once their lease ends. A full batch runs the next one at once.
"""

from __future__ import annotations

from kernel import logs, loops
from services.trigger.service import CLAIM_BATCH, TriggerService

log = logs.get("trigger.loops")

# Real seconds between evaluation ticks: keeps the lag from triggerAt to dial within a second or two.
TICK_SECONDS = 0.15
SWEEP_SECONDS = 2.0


def _full(count: int) -> bool:
    return count >= CLAIM_BATCH


async def evaluate_forever(service: TriggerService) -> None:
    await loops.every(TICK_SECONDS, lambda: service.fire_due(CLAIM_BATCH), log=log, what="trigger evaluation",
                      busy=_full)


async def sweep_forever(service: TriggerService) -> None:
    await loops.every(SWEEP_SECONDS, lambda: service.republish_unpublished(CLAIM_BATCH), log=log,
                      what="republish sweep", busy=_full)
