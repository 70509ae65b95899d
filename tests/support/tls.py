"""Mutual TLS in the test harness: one CA and one certificate per process for the whole test
session, a channel that calls each method as a caller the table allows, and stand-in servers
that prove the name of the service they stand in for.

mTLS is on for every System under pytest; elsewhere (the benchmarks, which start their systems
through this harness) it is off unless BENCH_MTLS=1. BENCH_MTLS=0 turns it off under pytest too.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import grpc

from kernel import callers, rpc, tls
from outbound_cli import devcerts

# A certificate of the deployment's CA whose name is on no row of the table.
STRANGER = "intruder"
# Who the harness calls as, when the table lets several: the operator first, then the public API.
PREFERENCE = (callers.CLI, callers.GATEWAY)

_session_dir: Path | None = None


def mtls_by_default() -> bool:
    switch = os.environ.get("BENCH_MTLS", "").strip().lower()
    if switch:
        return switch not in ("0", "false", "no", "off")
    return "PYTEST_VERSION" in os.environ  # set by pytest for its whole session


def session_certificates() -> Path:
    """The session's certificate directory: made on first use, removed when the process ends."""
    global _session_dir
    if _session_dir is None:
        root = Path(tempfile.mkdtemp(prefix="outbound-tls-"))
        atexit.register(shutil.rmtree, root, True)
        _session_dir = devcerts.ensure(root / "tls", (*devcerts.NAMES, STRANGER))
    return _session_dir


def files(name: str) -> tls.TlsFiles:
    return devcerts.files_for(session_certificates(), name)


def caller_for(service: str, method: str) -> str:
    """A caller the table lets call `method` of `service` (the CLI when none may)."""
    allowed = callers.callers_of(service, method)
    preferred = [name for name in PREFERENCE if name in allowed]
    return (preferred or sorted(allowed) or [callers.CLI])[0]


def add_port(server: grpc.Server, service: str, address: str) -> int:
    """Listen as `service` would: with its certificate when mTLS is on (stand-ins for a peer)."""
    if not mtls_by_default():
        return int(server.add_insecure_port(address))
    return int(server.add_secure_port(address, tls.server_credentials(files(service))))


class RoutedChannel(grpc.Channel):  # type: ignore[misc]  # grpc ships no types
    """A channel to one service that calls each method as `caller_for` it, one channel per caller:
    a test drives any method the way the real caller of that method would."""

    def __init__(self, address: str, service: str) -> None:
        self._address = address
        self._service = service
        self._opened: dict[str, grpc.Channel] = {}

    def _for(self, method: str) -> grpc.Channel:
        caller = caller_for(self._service, method)
        if caller not in self._opened:
            self._opened[caller] = rpc.blocking_channel(self._address, files(caller), self._service)
        return self._opened[caller]

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._for(method).unary_unary(method, *args, **kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._for(method).unary_stream(method, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._for(method).stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._for(method).stream_stream(method, *args, **kwargs)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._for(callers.HEALTH_PREFIX + "Check").subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._for(callers.HEALTH_PREFIX + "Check").unsubscribe(callback)

    def close(self) -> None:
        for opened in self._opened.values():
            opened.close()
        self._opened.clear()

    def __enter__(self) -> RoutedChannel:
        return self

    def __exit__(self, *exc: object) -> bool:
        self.close()
        return False
