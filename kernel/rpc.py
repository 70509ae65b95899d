"""Calling another service: a failed status comes back as the same domain error.

A channel speaks mutual TLS when the process has its certificate (kernel.tls), plaintext
otherwise; over TLS the server must prove it is the service the address belongs to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from kernel import errors, tls, tracing
from kernel import settings as settings_module
from kernel.settings import Settings

DEFAULT_TIMEOUT = 30.0
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Spread calls over every address the name resolves to (a headless Service lists each
    # replica), instead of pinning a client to one replica for the connection's life.
    ("grpc.lb_policy_name", "round_robin"),
    ("grpc.dns_min_time_between_resolutions_ms", 10_000),
    # A peer that restarts is reconnected within a second: the default back-off grows to two
    # minutes while the peer is away, and every call in the meantime fails at once (503).
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def channel(address: str, settings: Settings | None = None, service: str | None = None) -> grpc.aio.Channel:
    """A channel to the service at `address` (`service`: its name, else the one `settings` address
    there), with the TLS files of `settings` (by default this process's)."""
    settings = settings or settings_module.get()
    files = tls.files(settings)
    if files is None:
        return grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
    name = service or settings.service_at(address)
    return grpc.aio.secure_channel(address, tls.channel_credentials(files),
                                   options=CHANNEL_OPTIONS + (tls.server_name(name) if name else []))


def blocking_channel(address: str, files: tls.TlsFiles | None, service: str) -> grpc.Channel:
    """A synchronous channel (the CLI, launchers, tests) to `service` at `address`."""
    if files is None:
        return grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
    return grpc.secure_channel(address, tls.channel_credentials(files),
                               options=CHANNEL_OPTIONS + tls.server_name(service))


class Channels:
    """The channels a client opened to its peers, by service name, closed together."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._opened: list[grpc.aio.Channel] = []

    def open(self, service: str) -> grpc.aio.Channel:
        opened = channel(self._settings.address(service), self._settings, service)
        self._opened.append(opened)
        return opened

    async def close(self) -> None:
        for opened in self._opened:
            await opened.close()


async def call(method: Any, request: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Invoke a unary RPC; a failed status is raised as the callee's domain error."""
    try:
        return await method(request, timeout=timeout, metadata=tracing.grpc_metadata())
    except grpc.aio.AioRpcError as exc:
        raise errors.from_rpc_error(exc) from None


async def stream(method: Any, request: Any, *, timeout: float) -> AsyncIterator[Any]:
    """Read a server-streaming RPC message by message; a failed status is raised as the callee's
    domain error."""
    try:
        async for message in method(request, timeout=timeout):
            yield message
    except grpc.aio.AioRpcError as exc:
        raise errors.from_rpc_error(exc) from None
