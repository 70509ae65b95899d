"""Mutual TLS between services: the files a process presents, the credentials made of them,
the name a server must prove, and who the caller of an RPC is.

With GRPC_TLS_CERT, GRPC_TLS_KEY and GRPC_TLS_CA set, a server takes only clients whose
certificate that CA signed (the TLS handshake refuses every other client, which sees
UNAVAILABLE), and a client accepts a server only when the server's certificate carries the
name of the service it meant to call (a DNS subject alternative name). The identity of a
caller is the subject common name of its certificate: `gateway`, `cli`, `execution`, …
Which identity may call which method is kernel.callers' table, enforced by CallerCheck.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from kernel import callers, logs
from kernel.settings import Settings

log = logs.get("kernel.tls")

CERT_VAR, KEY_VAR, CA_VAR = "GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA"


@dataclass(frozen=True)
class TlsFiles:
    """Paths of a certificate (PEM, the chain up to the CA), its private key and the CA's certificate."""

    cert: str
    key: str
    ca: str

    def env(self) -> dict[str, str]:
        """The variables that hand these files to a process."""
        return {CERT_VAR: self.cert, KEY_VAR: self.key, CA_VAR: self.ca}


def files(settings: Settings) -> TlsFiles | None:
    """This process's TLS files, or None when it runs without TLS."""
    if not settings.grpc_tls_cert:
        return None
    return TlsFiles(settings.grpc_tls_cert, settings.grpc_tls_key, settings.grpc_tls_ca)


def files_in(env: Mapping[str, str]) -> TlsFiles | None:
    """The TLS files an environment hands a child process (the launcher's side of `files`)."""
    found = [env.get(name, "") for name in (CERT_VAR, KEY_VAR, CA_VAR)]
    return TlsFiles(*found) if all(found) else None


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """A server's side: its certificate, and a client certificate signed by the CA required."""
    return grpc.ssl_server_credentials([(_read(tls.key), _read(tls.cert))], root_certificates=_read(tls.ca),
                                       require_client_auth=True)


def channel_credentials(tls: TlsFiles) -> grpc.ChannelCredentials:
    """A client's side: its own certificate, and the CA that must have signed the server's."""
    return grpc.ssl_channel_credentials(root_certificates=_read(tls.ca), private_key=_read(tls.key),
                                        certificate_chain=_read(tls.cert))


def server_name(service: str) -> list[tuple[str, str]]:
    """Channel options: the server must prove it is `service`, whatever address reached it."""
    return [("grpc.ssl_target_name_override", service)]


def peer_name(context: grpc.aio.ServicerContext) -> str | None:
    """The common name of the caller's verified certificate; None without one."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return bytes(names[0]).decode() if names else None


Check = Callable[[grpc.aio.ServicerContext], Awaitable[None]]


class CallerCheck(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Refuses a caller the table does not list for the method: PERMISSION_DENIED, before the
    handler runs (UNAUTHENTICATED for a connection without a verified certificate, which the
    handshake already prevents)."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._checks: dict[str, Check] = {}
        if service not in callers.SERVICE_CALLERS:
            log.warning("service missing from the callers table: only its health check answers",
                        extra={"grpc_service": service})

    def _check(self, method: str) -> Check:
        check = self._checks.get(method)
        if check is None:
            allowed = callers.callers_of(self.service, method)

            async def check(context: grpc.aio.ServicerContext) -> None:
                caller = peer_name(context)
                if caller is None:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
                if caller not in allowed:
                    log.warning("caller refused", extra={"caller": caller, "method": method})
                    await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{caller} may not call {method}")

            check = self._checks[method] = check
        return check

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                handler_call_details: Any) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return _guarded(handler, self._check(handler_call_details.method))


def _guarded(handler: Any, check: Check) -> Any:
    """The same handler, the check first. A streaming handler keeps its shape: an async generator
    stays one, a coroutine writing with context.write stays a coroutine."""
    serializers = {"request_deserializer": handler.request_deserializer,
                   "response_serializer": handler.response_serializer}
    kinds = (("unary_unary", grpc.unary_unary_rpc_method_handler),
             ("unary_stream", grpc.unary_stream_rpc_method_handler),
             ("stream_unary", grpc.stream_unary_rpc_method_handler),
             ("stream_stream", grpc.stream_stream_rpc_method_handler))
    for kind, make in kinds:
        inner = getattr(handler, kind)
        if inner is None:
            continue
        if inspect.isasyncgenfunction(inner):
            async def streamed(request: Any, context: grpc.aio.ServicerContext, inner: Any = inner) -> Any:
                await check(context)
                async for item in inner(request, context):
                    yield item

            return make(streamed, **serializers)

        async def answered(request: Any, context: grpc.aio.ServicerContext, inner: Any = inner) -> Any:
            await check(context)
            answer = inner(request, context)
            return (await answer) if inspect.isawaitable(answer) else answer

        return make(answered, **serializers)
    return handler
