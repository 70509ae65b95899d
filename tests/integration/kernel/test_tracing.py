"""Trace context crosses gRPC calls and JetStream messages."""

import asyncio

import grpc

from kernel import jetstream, rpc, tracing
from kernel.grpc_server import DomainErrorInterceptor
from outbound_cli.devservers import free_port
from tests.support.infra import Infra
from tests.support.system import HANG_GUARD_SECONDS

tracing.setup("test")


async def _trace_id_handler(request: bytes, context) -> bytes:
    return (tracing.current_trace_id() or "").encode()


async def test_grpc_call_continues_the_callers_trace():
    server = grpc.aio.server(interceptors=[DomainErrorInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "test.Trace", {"Id": grpc.unary_unary_rpc_method_handler(_trace_id_handler)})])
    port = server.add_insecure_port(f"127.0.0.1:{free_port()}")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            method = channel.unary_unary("/test.Trace/Id")
            with tracing.tracer().start_as_current_span("caller"):
                caller_trace = tracing.current_trace_id()
                seen = await rpc.call(method, b"")
            assert seen.decode() == caller_trace
            untraced = await rpc.call(method, b"")
            assert untraced.decode() and untraced.decode() != caller_trace  # a fresh trace
    finally:
        await server.stop(None)


async def test_event_consumer_continues_the_publishers_trace(infra: Infra):
    url, server = infra.new_nats()
    nc = await jetstream.connect(url, "trace-test")
    js = nc.jetstream()
    await jetstream.ensure_streams(js)
    seen: list[str | None] = []
    done = asyncio.Event()

    async def handler(msgs):
        seen.append(tracing.current_trace_id())
        done.set()

    with tracing.tracer().start_as_current_span("publisher"):
        publisher_trace = tracing.current_trace_id()
        await jetstream.publish(js, "program.archived", b"x", "program.archived:p1")
    stopping = asyncio.Event()
    task = asyncio.create_task(jetstream.run_pull_consumer(
        js, jetstream.ConsumerSpec("PROGRAMS", "trace", "program.>", fetch_timeout=0.2), handler, stopping))
    try:
        await asyncio.wait_for(done.wait(), HANG_GUARD_SECONDS)
    finally:
        stopping.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        if server:
            server.stop()
    assert seen == [publisher_trace]
