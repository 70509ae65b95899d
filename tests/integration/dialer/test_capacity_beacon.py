"""A dialer replica's announced channels, in a real Redis and from real dialer processes: each
replica announces its channels at start and again every heartbeat, keeps running and announces
again when Redis comes back from an outage, and withdraws them when it shuts down. The SIP
carrier announces no more channels than its line pool carries."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import redis
from redis.asyncio import Redis

from kernel import dial_channels
from kernel.settings import Settings
from services.dialer.adapters.capacity_beacon import CapacityBeacon
from services.dialer.adapters.carrier import SimCarrier, load_sim_rules, make_carrier
from services.dialer.entrypoints.dial_consumer import ConsumerOptions, DialConsumer
from services.dialer.entrypoints.server import announced_channels
from tests.support.system import HANG_GUARD_SECONDS, System, wait_until

CHANNELS = 7


@pytest.fixture
async def own_redis(infra):
    # A server of its own: the keys are global, another test's dialers must not show up here.
    url, _ = infra.new_redis(own=True)
    client = Redis.from_url(url)
    yield client
    await client.aclose()


async def test_announce_stores_channels_and_expiry_withdraw_removes_both(own_redis):
    beacon = CapacityBeacon(own_redis, "host:1:abc", 12, ttl_seconds=15)
    now_ms = int((await own_redis.time())[0]) * 1000
    await beacon.announce()
    assert await own_redis.hgetall(dial_channels.CHANNELS_KEY) == {b"host:1:abc": b"12"}
    expiry = await own_redis.zscore(dial_channels.EXPIRY_KEY, "host:1:abc")
    assert expiry is not None and now_ms + 15_000 <= expiry
    await beacon.withdraw()
    assert not await own_redis.exists(dial_channels.CHANNELS_KEY, dial_channels.EXPIRY_KEY)
    await beacon.announce()  # once withdrawn, a late beat brings nothing back
    assert not await own_redis.exists(dial_channels.CHANNELS_KEY, dial_channels.EXPIRY_KEY)


async def test_a_beacon_is_built_with_sane_values(own_redis):
    for replica, channels, ttl in (("", 1, 15.0), ("r", -1, 15.0), ("r", 1, 0.0)):
        with pytest.raises(ValueError):
            CapacityBeacon(own_redis, replica, channels, ttl)
    # One missed heartbeat must not let a live replica's announcement lapse.
    with pytest.raises(ValueError, match="two heartbeats"):
        DialConsumer(None, None, ConsumerOptions(heartbeat_seconds=5.0),
                     CapacityBeacon(own_redis, "r", 1, ttl_seconds=10.0))


async def test_the_sip_carrier_announces_no_more_than_its_lines(own_redis, tmp_path: Path):
    trunks = tmp_path / "trunks.json"
    trunks.write_text(json.dumps([{"name": "main", "uri": "sip:198.51.100.7", "maxCallsPerSecond": 1,
                                   "maxConcurrentCalls": 1}]))
    # 6 calls take 2 line workers of 4 lines; nothing is started here.
    sip = make_carrier(Settings(carrier="sip", raw={"SIP_TRUNKS": str(trunks), "SIP_MAX_CALLS": "6"}), own_redis)
    assert announced_channels(sip, 500) == 8
    assert announced_channels(sip, 5) == 5
    assert announced_channels(SimCarrier(load_sim_rules(None)), 500) == 500


# --- real dialer processes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def dialers(system_factory):
    # Own brokers: this test stops its Redis; a 2 s call lease makes heartbeats 0.5 s apart.
    system = system_factory(services=["dialer"], gateway=False, replicas={"dialer": 2}, own_brokers=True,
                            extra_env={"DIALER_MAX_CHANNELS": str(CHANNELS), "DIALER_CALL_LEASE_SECONDS": "2"})
    client = redis.Redis.from_url(system.redis_url)
    yield system, client
    client.close()


def pid_of(system: System, instance: int) -> int:
    return system.group.find("dialer", instance).popen.pid


def announced(client: redis.Redis) -> dict[int, int]:
    """dialer pid → channels, from the replica ids (host:pid:nonce)."""
    return {int(replica.decode().split(":")[1]): int(channels)
            for replica, channels in client.hgetall(dial_channels.CHANNELS_KEY).items()}


def replica_of(client: redis.Redis, pid: int) -> str:
    return next(r.decode() for r in client.hkeys(dial_channels.CHANNELS_KEY) if r.decode().split(":")[1] == str(pid))


def test_each_dialer_announces_its_channels_and_renews_them(dialers):
    system, client = dialers
    pids = {pid_of(system, 0), pid_of(system, 1)}
    wait_until(lambda: set(announced(client)) == pids, message="both dialers announced")
    assert announced(client) == dict.fromkeys(pids, CHANNELS)
    replica = replica_of(client, pid_of(system, 0))
    first = client.zscore(dial_channels.EXPIRY_KEY, replica)
    assert first is not None
    wait_until(lambda: (client.zscore(dial_channels.EXPIRY_KEY, replica) or 0) > first,
               message="a heartbeat announced again")


def test_redis_away_is_not_fatal_and_the_next_beat_announces_again(dialers):
    system, client = dialers
    pid = pid_of(system, 0)
    wait_until(lambda: pid in announced(client), message="announced")
    log_path = system.group.find("dialer", 0).log_path
    assert log_path is not None
    assert system.redis is not None
    system.redis.stop()
    try:
        wait_until(lambda: "channels not announced" in log_path.read_text(errors="replace"),
                   message="the failed announcement logged")
    finally:
        system.redis.start()
    # Whatever the restarted Redis kept, the replica shows up again by its own beat.
    client.delete(dial_channels.CHANNELS_KEY, dial_channels.EXPIRY_KEY)
    wait_until(lambda: announced(client).get(pid) == CHANNELS, message="announced after the outage")
    assert system.group.find("dialer", 0).popen.poll() is None, "the dialer kept running"


def test_a_dialer_that_stops_withdraws_its_channels(dialers):
    system, client = dialers
    stopping, staying = pid_of(system, 1), pid_of(system, 0)
    wait_until(lambda: set(announced(client)) == {stopping, staying}, message="both announced")
    returncode = system.group.stop(system.group.find("dialer", 1), sig=signal.SIGTERM, timeout=HANG_GUARD_SECONDS)
    assert returncode == 0
    # Withdrawn before the process exited, not left to expire.
    assert announced(client) == {staying: CHANNELS}
    assert [m.decode() for m in client.zrange(dial_channels.EXPIRY_KEY, 0, -1)] == [replica_of(client, staying)]
