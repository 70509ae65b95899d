"""gRPC server bootstrap: health, reflection, the error interceptor, graceful drain, and the
service's database engine and broker connection, closed when it stops.

It listens on GRPC_HOST (loopback unless the deployment says otherwise), with mutual TLS and
the callers table (kernel.tls, kernel.callers) when the process has its certificate, and may
answer the health check alone on a plaintext GRPC_HEALTH_PORT for probes without one.

SIGTERM or SIGINT → every health status NOT_SERVING → wait `drain_seconds` so load
balancers stop sending → stop background loops → stop the server with `grace_seconds`
for in-flight RPCs → close resources.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from kernel import db, errors, jetstream, logs, metrics, tls, tracing
from kernel.settings import Settings

if TYPE_CHECKING:  # types only: kernel.db and kernel.jetstream make the engine and the broker
    from nats.js import JetStreamContext
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logs.get("kernel.grpc")

# Observers of each RPC's latency: (method, code, seconds). Metrics hook in here.
RPC_OBSERVERS: list[Callable[[str, str, float], None]] = [metrics.observe_rpc]

# Translators of an exception no use case turned into a domain error: each answers the domain
# error it stands for, or None. The database's refusals are known to kernel.db, not here.
ERROR_TRANSLATORS: list[Callable[[Exception], errors.DomainError | None]] = [db.refused_value]


def _observe(method: str, code: str, started: float) -> None:
    elapsed = time.perf_counter() - started
    for observer in RPC_OBSERVERS:
        observer(method, code, elapsed)


async def _abort(context: grpc.aio.ServicerContext, err: errors.DomainError) -> None:
    await context.abort(err.code, err.message, trailing_metadata=errors.to_trailing_metadata(err))


def _unexpected(method: str, exc: Exception) -> errors.DomainError:
    """An exception no use case turned into a domain error: what a translator makes of it (a
    value the database refuses is the caller's: INVALID_ARGUMENT). Anything else is logged here
    and answered INTERNAL without its text, which may quote SQL and the request's data."""
    for translate in ERROR_TRANSLATORS:
        translated = translate(exc)
        if translated is not None:
            return translated
    if isinstance(exc, asyncio.CancelledError | grpc.aio.AbortError):
        raise exc
    log.exception("unexpected error", extra={"method": method})
    return errors.DomainError()


@contextlib.asynccontextmanager
async def _answering(method: str, carrier: dict[str, str], context: grpc.aio.ServicerContext
                     ) -> AsyncIterator[None]:
    """One RPC under way: its trace span, its latency by status, its errors as statuses."""
    started = time.perf_counter()
    code = "OK"
    with tracing.span_from(carrier, method):
        try:
            yield
        except errors.DomainError as err:
            code = err.code.name
            await _abort(context, err)
        except Exception as exc:
            failure = _unexpected(method, exc)
            code = failure.code.name
            await _abort(context, failure)
        finally:
            _observe(method, code, started)


class DomainErrorInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """The one place where domain errors become gRPC statuses with ErrorInfo."""

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        carrier = {k: v for k, v in (handler_call_details.invocation_metadata or ()) if isinstance(v, str)}
        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                async with _answering(method, carrier, context):
                    return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async with _answering(method, carrier, context):
                    async for item in inner_stream(request, context):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


BackgroundTask = Callable[[], Awaitable[None]]


class ServiceRuntime:
    """Runs one service: its gRPC server plus background loops (consumers, orchestrators)."""

    def __init__(self, name: str, settings: Settings):
        tracing.setup(name, settings)
        self.name = name
        self.settings = settings
        self.tls = tls.files(settings)
        # The caller check runs first, so a refused caller reaches no handler and no error mapping.
        interceptors = [tls.CallerCheck(name)] if self.tls else []
        self.server = grpc.aio.server(
            interceptors=[*interceptors, DomainErrorInterceptor()],
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024),
                     ("grpc.max_send_message_length", 64 * 1024 * 1024),
                     # Connections are recycled so clients re-resolve and find new replicas.
                     ("grpc.max_connection_age_ms", 5 * 60 * 1000),
                     ("grpc.max_connection_age_grace_ms", 30 * 1000)],
        )
        self.health = HealthServicer()
        self._service_names: list[str] = []
        self._background: list[BackgroundTask] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._stopping = asyncio.Event()
        self.port: int | None = None
        self.health_port: int | None = None
        self._health_server: grpc.aio.Server | None = None

    def add_services(self, full_names: Iterable[str]) -> None:
        self._service_names.extend(full_names)

    def add_background(self, task: BackgroundTask) -> None:
        self._background.append(task)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(closer)

    def database(self) -> AsyncEngine:
        """The service's engine on its own schema (named after the service), disposed at close."""
        engine = db.create_engine(self.settings.database_url, self.name, pool_size=self.settings.db_pool_size)
        self.on_close(engine.dispose)
        return engine

    async def broker(self) -> JetStreamContext:
        """JetStream on the service's own connection, every stream ensured; closed at close."""
        nc = await jetstream.connect(self.settings.nats_url, self.name)
        js = nc.jetstream()
        await jetstream.ensure_streams(js)
        self.on_close(lambda: jetstream.close(nc))
        return js

    async def _set_all(self, status: int) -> None:
        await self.health.set("", status)
        for name in self._service_names:
            await self.health.set(name, status)

    async def run(self, port: int | None = None) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, self.server)
        listen_port = port if port is not None else self.settings.port_for(self.name)
        address = f"{self.settings.grpc_host}:{listen_port}"
        if self.tls:
            self.port = self.server.add_secure_port(address, tls.server_credentials(self.tls))
        else:
            self.port = self.server.add_insecure_port(address)
        await self.server.start()
        await self._serve_health_alone()
        # Metrics beside the gRPC port unless METRICS_PORT says otherwise (0 disables).
        metrics_port = metrics.serve(self.settings, self.port + 1000 if self.port + 1000 < 65536 else None)
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"port": self.port, "metrics_port": metrics_port, "grpc_service": self.name,
                                   "host": self.settings.grpc_host, "mtls": self.tls is not None,
                                   "health_port": self.health_port})

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stopping.set)

        tasks = [asyncio.create_task(self._supervise(task)) for task in self._background]
        await self._stopping.wait()
        log.info("draining", extra={"drain_seconds": self.settings.drain_seconds})
        await self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)
        await asyncio.sleep(self.settings.drain_seconds)
        for task in tasks:
            task.cancel()
        # A loop that ignores cancellation must not keep the process alive past its grace.
        _, stuck = await asyncio.wait(tasks, timeout=self.settings.grace_seconds) if tasks else (set(), set())
        if stuck:
            log.warning("background tasks did not stop in time", extra={"count": len(stuck)})
        await self.server.stop(self.settings.grace_seconds)
        if self._health_server is not None:
            await self._health_server.stop(0)
        for closer in reversed(self._closers):
            try:
                await asyncio.wait_for(closer(), timeout=self.settings.grace_seconds)
            except Exception as exc:
                log.warning("close failed", extra={"closer": getattr(closer, "__qualname__", ""), "error": repr(exc)})
        log.info("stopped")

    async def _serve_health_alone(self) -> None:
        """The health service, and nothing else, on GRPC_HEALTH_PORT without TLS: what a probe that
        cannot present a certificate may ask. It shares the statuses of the main server."""
        if self.settings.grpc_health_port is None:
            return
        self._health_server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._health_server)
        self.health_port = self._health_server.add_insecure_port(
            f"{self.settings.grpc_host}:{self.settings.grpc_health_port}")
        await self._health_server.start()

    async def _supervise(self, task: BackgroundTask) -> None:
        """Keep a background loop alive: a crash is logged and the loop restarted."""
        while not self._stopping.is_set():
            try:
                await task()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task crashed; restarting", extra={"task": getattr(task, "__name__", "")})
                await asyncio.sleep(1.0)
