"""Coalescing concurrent calls into one batch call: one round trip serves many calls in flight.

Every call under way runs as its own task and asks for one thing at a time (claim this
attempt, reserve this credit, store this result). A Coalescer gathers what the tasks ask
for while the previous batch is under way and sends it as the next batch, so the cost of a
round trip is shared by every call waiting for it (group commit) while each call keeps its
own simple, sequential logic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# A batch function answers one result (or the exception for that item) per item, in order.
BatchFn = Callable[[list[T]], Awaitable[Sequence[R | BaseException]]]


class Coalescer(Generic[T, R]):
    def __init__(self, run: BatchFn, *, max_batch: int = 1000, max_in_flight: int = 1):
        self._run = run
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._in_flight: set[asyncio.Task] = set()

    async def __call__(self, item: T) -> R:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._kick()
        return await future

    def _kick(self) -> None:
        if self._pending and len(self._in_flight) < self._max_in_flight:
            task = asyncio.create_task(self._flush())
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._in_flight.discard(task)
        self._kick()

    async def _flush(self) -> None:
        # The batch is taken when this task first runs, after every callback already due in
        # this turn of the event loop: the calls woken together (by the previous batch) all join.
        batch = self._pending[:self._max_batch]
        del self._pending[:self._max_batch]
        # A caller cancelled before its batch went out asked for nothing, as with a single call.
        batch = [(item, future) for item, future in batch if not future.cancelled()]
        if not batch:
            return
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch answered {len(results)} results for {len(batch)} items")
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else asyncio.CancelledError())
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
