"""JetStream helpers against a real nats-server: de-duplication, ack, redelivery, poison."""

import asyncio

import pytest

from kernel import jetstream
from tests.support.infra import Infra
from tests.support.system import HANG_GUARD_SECONDS


@pytest.fixture
async def js(infra: Infra):
    url, server = infra.new_nats()
    nc = await jetstream.connect(url, "test")
    context = nc.jetstream()
    await jetstream.ensure_streams(context)
    yield context
    await nc.close()
    if server is not None:
        server.stop()


async def _consume(js, spec, handler, until, timeout=HANG_GUARD_SECONDS):
    stopping = asyncio.Event()
    task = asyncio.create_task(jetstream.run_pull_consumer(js, spec, handler, stopping))
    try:
        await asyncio.wait_for(until.wait(), timeout)
    finally:
        # A graceful stop lets the batch in hand be acked; the cancel is only a backstop against a hang.
        stopping.set()
        await asyncio.wait({task}, timeout=HANG_GUARD_SECONDS)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_same_msg_id_is_stored_once(js):
    await jetstream.publish(js, "dial.requested", b"a", "e1:c1:1")
    await jetstream.publish(js, "dial.requested", b"a", "e1:c1:1")
    await jetstream.publish_many(js, [("dial.requested", b"b", "e1:c2:1"), ("dial.requested", b"b", "e1:c2:1")])
    info = await js.stream_info("DIAL")
    assert info.state.messages == 2


async def test_failed_batch_is_redelivered_then_acked(js):
    await jetstream.publish(js, "call.completed", b"r1", "call.completed:x")
    seen: list[bytes] = []
    done = asyncio.Event()

    async def handler(msgs):
        seen.extend(m.data for m in msgs)
        if len(seen) == 1:
            raise RuntimeError("database down")  # first delivery fails
        done.set()

    spec = jetstream.ConsumerSpec("CALLS", "test-redelivery", "call.>", backoff=(0.1,), fetch_timeout=0.2)
    await _consume(js, spec, handler, done)
    assert seen == [b"r1", b"r1"]
    info = await js.consumer_info("CALLS", "test-redelivery")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_poison_message_is_terminated_not_retried(js):
    await jetstream.publish(js, "trigger.fired", b"garbage", "trigger.fired:t1")
    calls = 0
    done = asyncio.Event()

    async def handler(msgs):
        nonlocal calls
        calls += 1
        done.set()
        raise jetstream.PoisonMessage("cannot decode")

    spec = jetstream.ConsumerSpec("TRIGGERS", "test-poison", "trigger.>", fetch_timeout=0.2)
    await _consume(js, spec, handler, done)
    await asyncio.sleep(0.5)
    info = await js.consumer_info("TRIGGERS", "test-poison")
    assert calls == 1 and info.num_ack_pending == 0 and info.num_redelivered == 0
