"""The trunks' shared limits out of reach (their Redis stopped): a call asks for room again and
again, as for a full trunk, and goes out once Redis is back; it never fails for it, and it never
goes out without room while Redis is gone."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from services.dialer.adapters.trunk_limits import TrunkLimits
from tests.integration.dialer.test_sip_carrier import (  # noqa: F401 - fixtures
    assert_far_end_ok,
    far_ends,
    prompts,
    request,
    short_flow,
    sip_carrier,
    trunk,
)


async def test_a_call_waits_while_the_trunk_limits_are_unreachable_and_goes_out_when_they_are_back(
        infra, far_ends, prompts):  # noqa: F811 - fixtures
    url, server = infra.new_redis(own=True)
    assert server is not None
    redis = Redis.from_url(url)
    sipp = far_ends("answer_silent")  # exactly one call may arrive
    try:
        async with sip_carrier([trunk(sipp)], TrunkLimits(redis), prompts) as carrier:
            server.stop()
            placing = asyncio.create_task(carrier.place(request(short_flow())))
            await asyncio.sleep(2.0)  # many asks for room, every one failing on Redis
            assert not placing.done() and carrier.pool.busy() == 0  # waiting, nothing sent
            server.start()
            outcome = await asyncio.wait_for(placing, 30)
            assert outcome.outcome == "answered" and outcome.node_ids == ["hello", "bye"]
        assert_far_end_ok(sipp)
    finally:
        await redis.aclose()
