import asyncio

import pytest

from kernel.loops import finish_current


async def test_cancelled_loop_lets_the_unit_of_work_finish_then_stops():
    steps: list[str] = []

    async def claim_then_publish():
        steps.append("claimed")
        await asyncio.sleep(0.2)
        steps.append("published")
        return 7

    async def loop():
        while True:
            await finish_current(claim_then_publish())

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.05)  # inside the first unit, between claim and publish
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["claimed", "published"]


async def test_results_and_errors_pass_through():
    async def ok():
        return 3

    async def boom():
        raise ValueError("bad")

    assert await finish_current(ok()) == 3
    with pytest.raises(ValueError):
        await finish_current(boom())
