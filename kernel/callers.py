"""Who may call whom over gRPC: one table, by the name in the caller's certificate.

Invariant: a caller is let through only when it is on the row of the service it calls and,
for a method of METHOD_CALLERS, also on that method's row (always a subset of its service's
row). The health check is open to every certificate of the deployment's CA; reflection to the
operator's CLI only. A service missing from the table accepts no caller, and a name missing
from every row (a certificate issued for something else) is refused everywhere.

The rows follow the real call graph: each service's adapters/peers.py, the gateway's
clients, and the `outbound admin` CLI. A new call between services starts here.
"""

from __future__ import annotations

# The callers that are not services: the public REST gateway and the operator's CLI.
GATEWAY = "gateway"
CLI = "cli"

SERVICE_CALLERS: dict[str, frozenset[str]] = {
    # Keys, credits, limits: the gateway (API keys, credits), the CLI (organizations, credits, limits),
    # execution (contact and dispatch limits, credits before a claim), dialer (reservations per call).
    "account": frozenset({GATEWAY, CLI, "execution", "dialer"}),
    # Contacts and audiences: the gateway, program (audience checks, output audiences),
    # execution (the audience stream at launch, do-not-call checks), trigger (attribute values, members).
    "audience": frozenset({GATEWAY, "program", "execution", "trigger"}),
    # DIDs, flows, audio, call records: the gateway, the CLI (DIDs), program and execution (DIDs, flows).
    "dialer": frozenset({GATEWAY, CLI, "program", "execution"}),
    "program": frozenset({GATEWAY, "execution"}),
    # Executions: the gateway, and program (an archived program cancels its active execution).
    "execution": frozenset({GATEWAY, "program"}),
    "trigger": frozenset({GATEWAY, "execution"}),
    # Webhook endpoints and their deliveries: the gateway only.
    "webhooks": frozenset({GATEWAY}),
}

_ACCOUNT = "/outbound.account.v1.AccountService/"
_AUDIENCE = "/outbound.audience.v1.AudienceService/"
_DIALER = "/outbound.dialer.v1.DialerService/"
_PROGRAM = "/outbound.program.v1.ProgramService/"
_TRIGGER = "/outbound.trigger.v1.TriggerService/"
_OPERATORS = frozenset({GATEWAY, CLI})

# Methods narrower than their service: who mints money, keys and tenants, who moves credits,
# who may read a whole audience at once, and the calls only one peer makes.
METHOD_CALLERS: dict[str, frozenset[str]] = {
    **{_ACCOUNT + name: _OPERATORS for name in (
        "CreateOrganization", "CreateApiKey", "RevokeApiKey", "AddCredits", "SetDispatchLimits",
        "SetContactLimits")},
    _ACCOUNT + "AuthenticateApiKey": frozenset({GATEWAY}),
    **{_ACCOUNT + name: frozenset({"dialer"}) for name in (
        "ReserveCredits", "ReserveCreditsBatch", "SettleReservation", "SettleReservations",
        "ReleaseReservation")},
    _AUDIENCE + "StreamAudienceContacts": frozenset({"execution"}),
    _AUDIENCE + "StreamAttributeValues": frozenset({"trigger"}),
    **{_DIALER + name: frozenset({CLI}) for name in ("AddDid", "SetDidStatus", "DeleteDid", "ListDids")},
    **{_ACCOUNT + name: frozenset({CLI}) for name in ("ListOrganizations", "ListApiKeys")},
    _PROGRAM + "MarkProgramActive": frozenset({"execution"}),
    _TRIGGER + "StartLiveExecution": frozenset({"execution"}),
    _TRIGGER + "EndLiveExecution": frozenset({"execution"}),
}

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIX = "/grpc.reflection.v1alpha.ServerReflection/"
# Every name a certificate of this deployment may carry.
KNOWN_CALLERS: frozenset[str] = frozenset({GATEWAY, CLI, *SERVICE_CALLERS})


def callers_of(service: str, method: str) -> frozenset[str]:
    """The names that may call `method` (a full gRPC method path) of `service`."""
    if method.startswith(HEALTH_PREFIX):
        return KNOWN_CALLERS
    if method.startswith(REFLECTION_PREFIX):
        return frozenset({CLI})
    row = SERVICE_CALLERS.get(service, frozenset())
    narrower = METHOD_CALLERS.get(method)
    return row if narrower is None else row & narrower


def may_call(service: str, method: str, caller: str) -> bool:
    return caller in callers_of(service, method)
