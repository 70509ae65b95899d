"""The coalescer: concurrent calls share one batch call, each gets its own answer or error."""

from __future__ import annotations

import asyncio

import pytest

from services.dialer.adapters.batching import Coalescer


async def test_calls_made_together_share_one_batch_in_order():
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    coalesce = Coalescer(run)
    answers = await asyncio.gather(*(coalesce(i) for i in range(50)))
    assert answers == [i * 10 for i in range(50)]
    # The first call goes out with every call made in the same turn of the loop.
    assert batches == [list(range(50))]


async def test_calls_arriving_during_a_batch_form_the_next_one():
    batches: list[list[int]] = []
    release = asyncio.Event()

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        if len(batches) == 1:
            await release.wait()
        return items

    coalesce = Coalescer(run)
    first = asyncio.ensure_future(coalesce(0))
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(coalesce(i)) for i in range(1, 4)]
    await asyncio.sleep(0.01)
    assert batches == [[0]]
    release.set()
    assert await asyncio.gather(first, *later) == [0, 1, 2, 3]
    assert batches == [[0], [1, 2, 3]]


async def test_an_item_error_fails_that_call_alone_and_a_batch_error_fails_all():
    async def run(items: list[int]) -> list:
        if 99 in items:
            raise RuntimeError("batch failed")
        return [ValueError(i) if i % 2 else i for i in items]

    coalesce = Coalescer(run)
    answers = await asyncio.gather(*(coalesce(i) for i in range(4)), return_exceptions=True)
    assert answers[0] == 0 and answers[2] == 2
    assert isinstance(answers[1], ValueError) and isinstance(answers[3], ValueError)
    with pytest.raises(RuntimeError):
        await asyncio.gather(coalesce(1), coalesce(99))


async def test_max_batch_splits_and_cancelled_callers_are_left_out():
    batches: list[list[int]] = []

    async def run(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    coalesce = Coalescer(run, max_batch=3)
    calls = [asyncio.ensure_future(coalesce(i)) for i in range(7)]
    await asyncio.sleep(0)
    calls[1].cancel()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [r for i, r in enumerate(results) if i != 1] == [0, 2, 3, 4, 5, 6]
    assert all(len(b) <= 3 for b in batches) and 1 not in sum(batches, [])
