"""The development servers are ready when `start()` returns: a durable Redis restarted over a
large append-only file has replayed it, so the first command gets an answer, not LOADING. Ports
for servers not yet listening are handed out free for their protocol, in whole blocks, once."""

from __future__ import annotations

import socket

import pytest
import redis

from outbound_cli import devservers
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


def test_udp_ports_are_handed_out_free_in_whole_blocks_and_only_once(monkeypatch):
    first = devservers.free_port(socket.SOCK_DGRAM, span=8)  # eight ports no one else is handed
    monkeypatch.setattr(devservers, "_PORT_RANGE", range(first, first + 8))
    monkeypatch.setattr(devservers, "_HANDED_OUT", set())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", first + 1))
        assert devservers.free_port(socket.SOCK_DGRAM, span=2) == first + 2, "no block over a port in use"
        assert devservers.free_port(socket.SOCK_DGRAM) == first
        assert devservers.free_port(socket.SOCK_DGRAM, span=4) == first + 4
        with pytest.raises(RuntimeError):
            devservers.free_port(socket.SOCK_DGRAM)
