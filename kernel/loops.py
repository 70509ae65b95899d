"""Background loops that stop between units of work, not in the middle of one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
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
