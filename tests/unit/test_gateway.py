"""Gateway pieces that need no running system: rate-limit sizes, the next-page header."""

import pytest
from fastapi import Response

from gateway.paging import NEXT_CURSOR, next_page
from gateway.ratelimit import RateLimiter


@pytest.mark.parametrize("rate, burst, expected", [(100, None, 200), (2, 5, 5), (0.2, None, 1), (0, None, 1)])
async def test_burst_defaults_to_twice_the_rate_and_at_least_one(rate, burst, expected):
    limiter = RateLimiter("redis://127.0.0.1:1/0", rate, burst)
    try:
        assert limiter.burst == expected
    finally:
        await limiter.close()


async def test_a_zero_rate_lets_every_request_through():
    limiter = RateLimiter("redis://127.0.0.1:1/0", 0)
    assert await limiter.check("any key") is None


def test_the_next_cursor_header_is_absent_on_the_last_page():
    last, more = Response(), Response()
    next_page(last, "")
    next_page(more, "abc")
    assert NEXT_CURSOR not in last.headers and more.headers[NEXT_CURSOR] == "abc"
