"""The development servers are ready when `start()` returns: a durable Redis restarted over a
large append-only file has replayed it, so the first command gets an answer, not LOADING."""

from __future__ import annotations

import redis

from tests.support.system import wait_until

KEYS = 2_000_000


def test_a_restarted_durable_redis_answers_as_soon_as_it_is_started(infra):
    _, server = infra.new_redis(own=True, durable=True)
    assert server is not None
    client = redis.Redis.from_url(server.url())
    client.execute_command("DEBUG", "POPULATE", KEYS)
    client.bgrewriteaof()  # the whole dataset into the append-only file, so a restart replays it
    wait_until(lambda: not any(client.info("persistence")[k] for k in ("aof_rewrite_in_progress",
                                                                      "aof_rewrite_scheduled")),
               message="the append-only file rewritten")
    client.close()
    server.stop()
    server.start()
    client = redis.Redis.from_url(server.url())
    try:
        assert client.info("persistence")["loading"] == 0
        assert client.dbsize() == KEYS
    finally:
        client.close()
