"""Fixtures of the dialer's integration tests shared by several modules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.dialer.adapters.trunk_limits import TrunkLimits


@pytest.fixture
async def limits(infra) -> AsyncIterator[TrunkLimits]:
    url, _ = infra.new_redis()
    redis = Redis.from_url(url)
    yield TrunkLimits(redis)
    await redis.aclose()
