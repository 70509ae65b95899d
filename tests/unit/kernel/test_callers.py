"""Who may call whom (kernel/callers.py): the table's own rules, and the table against the real
call graph read from the callers' source, so a new call between services cannot ship without
its row."""

from __future__ import annotations

import re
from pathlib import Path

from google.protobuf import descriptor
from hypothesis import given
from hypothesis import strategies as st

from kernel import callers
from outbound.account.v1 import account_pb2
from outbound.audience.v1 import audience_pb2
from outbound.dialer.v1 import dialer_pb2
from outbound.execution.v1 import execution_pb2
from outbound.program.v1 import program_pb2
from outbound.trigger.v1 import trigger_pb2
from outbound.webhooks.v1 import webhooks_pb2
from outbound_cli.serve import SERVICES

ROOT = Path(__file__).resolve().parents[3]
FILES = {"account": account_pb2, "audience": audience_pb2, "dialer": dialer_pb2, "execution": execution_pb2,
         "program": program_pb2, "trigger": trigger_pb2,
         "webhooks": webhooks_pb2}


def _methods(service: str) -> dict[str, str]:
    """RPC name → full method path of every gRPC service a context serves."""
    out = {}
    for grpc_service in FILES[service].DESCRIPTOR.services_by_name.values():
        assert isinstance(grpc_service, descriptor.ServiceDescriptor)
        for method in grpc_service.methods:
            out[method.name] = f"/{grpc_service.full_name}/{method.name}"
    return out


ALL_METHODS = sorted({(s, path) for s in SERVICES for path in _methods(s).values()})
NAMES = sorted(callers.KNOWN_CALLERS | {"intruder", ""})


def test_the_table_names_every_service_and_only_real_methods():
    assert set(callers.SERVICE_CALLERS) == set(SERVICES)
    real = {path for _, path in ALL_METHODS}
    assert set(callers.METHOD_CALLERS) <= real, set(callers.METHOD_CALLERS) - real


@given(st.sampled_from(ALL_METHODS), st.sampled_from(NAMES))
def test_a_method_never_admits_a_caller_its_service_refuses(target, caller):
    service, method = target
    if callers.may_call(service, method, caller):
        assert caller in callers.SERVICE_CALLERS[service]
        assert caller in callers.METHOD_CALLERS.get(method, callers.SERVICE_CALLERS[service])


@given(st.sampled_from([*SERVICES, "unknown"]), st.sampled_from(NAMES))
def test_health_is_open_to_the_deployment_and_reflection_to_the_operator(service, caller):
    known = caller in callers.KNOWN_CALLERS
    assert callers.may_call(service, "/grpc.health.v1.Health/Check", caller) == known
    assert callers.may_call(service, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                            caller) == (caller == callers.CLI)


def test_a_service_outside_the_table_and_a_stranger_are_refused():
    assert not callers.callers_of("unknown", "/outbound.unknown.v1.Unknown/Do")
    assert all(not callers.may_call(s, m, "intruder") for s, m in ALL_METHODS)


def test_only_the_operators_mint_tenants_keys_and_credits():
    for name in ("CreateOrganization", "CreateApiKey", "RevokeApiKey", "AddCredits"):
        assert callers.callers_of("account", f"/outbound.account.v1.AccountService/{name}") == {"gateway", "cli"}
    assert callers.callers_of("account", "/outbound.account.v1.AccountService/AuthenticateApiKey") == {"gateway"}


def _sources(caller: str) -> str:
    """The code of a caller that talks to services (its servicers left out: they answer, not call)."""
    folders = {"gateway": [ROOT / "gateway"], "cli": [ROOT / "outbound_cli"]}
    paths = [p for folder in folders.get(caller, [ROOT / "services" / caller]) for p in folder.rglob("*.py")
             if p.name != "grpc.py"]
    return "\n".join(p.read_text() for p in paths)


def test_every_call_in_the_code_is_allowed_by_the_table():
    """Each stub a caller builds names a service; each RPC of that service the caller's code invokes
    (`.Method(` or `.Method,`) must be allowed for it."""
    checked = 0
    for caller in (*SERVICES, "gateway", "cli"):
        code = _sources(caller)
        targets = {m.group(1) for m in re.finditer(r"\b(\w+)_pb2_grpc\.\w+Stub\(", code)} & set(FILES)
        for target in targets:
            for name, path in _methods(target).items():
                if re.search(rf"\.{name}\b\s*[(,]", code):
                    assert callers.may_call(target, path, caller), f"{caller} calls {path}: add it to kernel/callers.py"
                    checked += 1
    assert checked >= 40  # the scan found the call graph, not nothing
