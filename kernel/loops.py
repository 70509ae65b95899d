"""Background loops that stop between units of work, not in the middle of one.

Every periodic loop of every service is `every(...)`: a failed unit is logged and the loop goes
on (the next unit retries it: every unit is idempotent), a unit that found a full batch runs
again at once, and cancellation lets the unit in progress finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# How long a unit of work in progress may take to finish once shutdown cancels its loop.
FINISH_SECONDS = 10.0


async def finish_current(work: Awaitable[T]) -> T:
    """Await `work`; if the loop is cancelled meanwhile, let `work` finish first, then stop.

    A claim that has committed must also publish what it claimed: stopping in between
    would leave those contacts waiting for their lease instead of being dialed now.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, FINISH_SECONDS)
        raise


def _never_busy(_result: object) -> bool:
    return False


async def every(seconds: float, work: Callable[[], Awaitable[T]], *, log: logging.Logger, what: str,
                busy: Callable[[T], bool] = _never_busy,
                quiet: tuple[type[Exception], ...] = (),
                wake: asyncio.Event | None = None) -> None:
    """Run `work` forever, `seconds` apart.

    `busy(result)` True runs the next unit at once (a full batch: more is probably waiting). An
    exception is logged as "`what` failed" and the loop goes on, except those in `quiet`
    (expected while a dependency is down; the next unit retries). `wake`, when set, cuts the
    wait short. Cancellation stops the loop once the unit in progress has finished.
    """
    while True:
        if wake is not None:
            wake.clear()
        result_busy = False
        try:
            result_busy = busy(await finish_current(work()))
        except asyncio.CancelledError:
            raise
        except quiet:
            pass
        except Exception:
            log.exception("%s failed", what)
        if result_busy:
            await asyncio.sleep(0)  # let others run between full batches
            continue
        if wake is None:
            await asyncio.sleep(seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), seconds)
