"""Mutual TLS on every service of a real system: who is refused, how, and what gets through.

Refused by the TLS handshake (the client sees UNAVAILABLE: gRPC has no status for a handshake
that fails, and no RPC ever starts): a plaintext client, a client without a certificate, a
client whose certificate another CA signed, and a client that meets a server holding another
service's certificate. Refused by the callers table (PERMISSION_DENIED, before any handler
runs): a certificate of the deployment's CA whose name the table does not list for the service
or the method.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kernel import callers, rpc, tls
from outbound.account.v1 import account_pb2
from outbound.audience.v1 import audience_pb2
from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2
from outbound.webhooks.v1 import webhooks_pb2
from outbound_cli import devcerts
from outbound_cli.devservers import free_port
from outbound_cli.serve import SERVICES
from outbound_cli.supervisor import wait_healthy
from tests.support import tls as test_tls
from tests.support.system import HANG_GUARD_SECONDS, System

PROTOS = {"account": account_pb2, "audience": audience_pb2, "dialer": dialer_pb2, "execution": execution_pb2,
          "program": program_pb2, "trigger": trigger_pb2,
          "webhooks": webhooks_pb2}


def method_of(service: str) -> str:
    """The first RPC of the service, as a full method path."""
    grpc_service = next(iter(PROTOS[service].DESCRIPTOR.services_by_name.values()))
    return f"/{grpc_service.full_name}/{grpc_service.methods[0].name}"


def outsider(service: str) -> str:
    """A real component the table does not let call `service` at all."""
    return sorted(callers.KNOWN_CALLERS - callers.SERVICE_CALLERS[service] - {service})[0]


@pytest.fixture(scope="module")
def system(system_factory) -> System:
    system = system_factory(gateway=False, mtls=True)
    assert system.tls_dir is not None
    return system


@pytest.fixture(scope="module")
def foreign_ca() -> Path:
    """A second CA, with a certificate named like the real gateway."""
    return devcerts.ensure(Path(tempfile.mkdtemp(prefix="foreign-ca-")), ["gateway"])


def invoke(channel: grpc.Channel, method: str) -> grpc.StatusCode:
    """The status of one call with an empty request (OK when it passed)."""
    try:
        channel.unary_unary(method)(b"", timeout=HANG_GUARD_SECONDS)
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def as_caller(system: System, service: str, files: tls.TlsFiles | None, server_name: str | None = None) -> grpc.Channel:
    return rpc.blocking_channel(system.env[f"{service.upper()}_ADDR"], files, server_name or service)


@pytest.mark.parametrize("service", SERVICES)
def test_the_handshake_refuses_clients_without_a_certificate_of_the_ca(system, foreign_ca, service):
    address = system.env[f"{service.upper()}_ADDR"]
    ca_only = grpc.ssl_channel_credentials(root_certificates=Path(test_tls.files("cli").ca).read_bytes())
    channels = {
        "plaintext": grpc.insecure_channel(address),
        "no certificate": grpc.secure_channel(address, ca_only, options=tls.server_name(service)),
        "another CA": as_caller(system, service, devcerts.files_for(foreign_ca, "gateway")),
    }
    for label, channel in channels.items():
        with channel:
            assert invoke(channel, method_of(service)) == grpc.StatusCode.UNAVAILABLE, label


@pytest.mark.parametrize("service", SERVICES)
def test_a_certificate_the_table_does_not_list_is_denied(system, service):
    for caller in (test_tls.STRANGER, outsider(service)):
        with as_caller(system, service, test_tls.files(caller)) as channel:
            assert invoke(channel, method_of(service)) == grpc.StatusCode.PERMISSION_DENIED, caller


@pytest.mark.parametrize("service", SERVICES)
def test_a_listed_caller_gets_through_and_health_is_open_to_the_deployment(system, service):
    method = method_of(service)
    with as_caller(system, service, test_tls.files(test_tls.caller_for(service, method))) as channel:
        assert invoke(channel, method) not in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE,
                                               grpc.StatusCode.UNAUTHENTICATED)
    with as_caller(system, service, test_tls.files(outsider(service))) as channel:
        answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=HANG_GUARD_SECONDS)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("service,method,caller", [
    ("account", "/outbound.account.v1.AccountService/CreateOrganization", "execution"),
    ("account", "/outbound.account.v1.AccountService/AddCredits", "dialer"),
    ("account", "/outbound.account.v1.AccountService/ReserveCreditsBatch", "gateway"),
    ("account", "/outbound.account.v1.AccountService/AuthenticateApiKey", "cli"),
    ("audience", "/outbound.audience.v1.AudienceService/StreamAudienceContacts", "gateway"),
    ("dialer", "/outbound.dialer.v1.DialerService/AddDid", "gateway"),
    ("trigger", "/outbound.trigger.v1.TriggerService/StartLiveExecution", "gateway"),
    ("account", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "gateway"),
])
def test_a_method_narrower_than_its_service_denies_the_others(system, service, method, caller):
    assert caller in callers.SERVICE_CALLERS[service]  # on the service's row: the method is what refuses
    with as_caller(system, service, test_tls.files(caller)) as channel:
        if method.endswith("/StreamAudienceContacts"):
            call = lambda: list(channel.unary_stream(method)(b"", timeout=HANG_GUARD_SECONDS))  # noqa: E731
        elif "Reflection" in method:
            call = lambda: list(channel.stream_stream(method)(iter([b""]), timeout=HANG_GUARD_SECONDS))  # noqa: E731
        else:
            call = lambda: channel.unary_unary(method)(b"", timeout=HANG_GUARD_SECONDS)  # noqa: E731
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_client_checks_it_reached_the_service_it_meant(system):
    """The dialer's address answered with the dialer's certificate: a client that meant the account
    service refuses it."""
    with as_caller(system, "dialer", test_tls.files("cli"), server_name="account") as channel:
        assert invoke(channel, "/outbound.account.v1.AccountService/GetCredits") == grpc.StatusCode.UNAVAILABLE


def test_the_plaintext_health_port_answers_health_and_nothing_else(system):
    """GRPC_HEALTH_PORT: what a kubelet probe, which has no certificate, may ask."""
    health_port = free_port()
    proc = system.group.start("program", instance=1, extra_env={"GRPC_HEALTH_PORT": str(health_port)},
                              port=free_port())
    try:
        wait_healthy(proc, HANG_GUARD_SECONDS)
        with grpc.insecure_channel(f"127.0.0.1:{health_port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                                timeout=HANG_GUARD_SECONDS)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert invoke(channel, method_of("program")) == grpc.StatusCode.UNIMPLEMENTED
        with grpc.insecure_channel(f"127.0.0.1:{proc.port}") as channel:
            assert invoke(channel, method_of("program")) == grpc.StatusCode.UNAVAILABLE
    finally:
        system.group.stop(proc)
