"""`outbound admin …`: operator tasks over gRPC, each printing JSON.

It talks to the instance `make run` starts with the same environment: <NAME>_ADDR when set,
else GRPC_BASE_PORT + the service's place in the fixed service order (the ports `outbound run`
gives), else the default ports; it says on stderr which address it uses.

The CLI presents its own certificate (common name `cli`): GRPC_TLS_CERT / _KEY / _CA when set,
else the one `outbound run` made under $OUTBOUND_RUN_DIR/tls (default .run/tls) if it is there,
else none (plaintext, for services running without TLS).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grpc

from kernel import errors, rpc, tls
from kernel import settings as settings_module
from outbound.account.v1 import account_pb2, account_pb2_grpc
from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc
from outbound_cli.serve import SERVICES


def _credits(balance: account_pb2.CreditBalance) -> dict:
    return {"balance": balance.balance, "reserved": balance.reserved, "available": balance.available}


def _did(did: dialer_pb2.Did) -> dict:
    return {
        "id": did.id, "number": did.number, "country": did.country, "status": did.status,
        "organizationId": did.organization_id if did.HasField("organization_id") else None,
        "deleted": did.deleted,
    }


def _dispatch_limits(org_id: str, answer: account_pb2.GetDispatchLimitsResponse
                     | account_pb2.SetDispatchLimitsResponse) -> dict[str, object]:
    limits = answer.limits
    return {"organizationId": org_id, "maxConcurrentCalls": limits.max_concurrent_calls,
            "maxCallsPerSecond": limits.max_calls_per_second, "weight": limits.weight,
            "defaulted": list(answer.defaulted)}


def _int32(text: str) -> int:
    """An integer the wire can carry; the service judges its bounds."""
    value = int(text)
    if not -(2**31) <= value < 2**31:
        raise argparse.ArgumentTypeError(f"{text} is out of range")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    admin = sub.add_parser("admin", help="operator tasks").add_subparsers(dest="resource", required=True)

    org = admin.add_parser("org").add_subparsers(dest="action", required=True)
    create = org.add_parser("create", help="create an organization and its first API key")
    create.add_argument("--name", required=True)
    create.add_argument("--credits", type=int, default=0)
    org.add_parser("list", help="every organization, oldest first")
    limits = org.add_parser("limits", help="show the dispatch limits, or change the options given")
    limits.add_argument("--org", required=True)
    limits.add_argument("--concurrent", type=_int32, help="max concurrent calls (0: no organization limit)")
    limits.add_argument("--cps", type=_int32, help="max calls started per second (0: no limit)")
    limits.add_argument("--weight", type=_int32, help="weight in the fair share of channels, 1-1000")
    limits.add_argument("--reset", action="store_true", help="first clear all three to the defaults")

    credits = admin.add_parser("credits").add_subparsers(dest="action", required=True)
    add = credits.add_parser("add")
    add.add_argument("--org", required=True)
    add.add_argument("--amount", type=int, required=True)
    show = credits.add_parser("show")
    show.add_argument("--org", required=True)

    did = admin.add_parser("did").add_subparsers(dest="action", required=True)
    did_add = did.add_parser("add")
    did_add.add_argument("--number", required=True)
    did_add.add_argument("--country", required=True)
    did_add.add_argument("--org")
    did_add.add_argument("--inactive", action="store_true")
    did_status = did.add_parser("set-status")
    did_status.add_argument("--id", required=True)
    did_status.add_argument("--status", required=True, choices=["active", "inactive"])
    did_delete = did.add_parser("delete")
    did_delete.add_argument("--id", required=True)
    did_list = did.add_parser("list", help="DIDs not deleted; with --org, those the organization may use")
    did_list.add_argument("--org")

    key = admin.add_parser("key").add_subparsers(dest="action", required=True)
    key_create = key.add_parser("create", help="issue another API key (rotation)")
    key_create.add_argument("--org", required=True)
    key_create.add_argument("--name", default="")
    key_revoke = key.add_parser("revoke")
    key_revoke.add_argument("--id", required=True)
    key_list = key.add_parser("list", help="an organization's keys: ids and prefixes, never the secrets")
    key_list.add_argument("--org", required=True)


def run(args: argparse.Namespace) -> int:
    settings = settings_module.get()
    try:
        result = _dispatch(args, settings)
    except grpc.RpcError as exc:
        err = errors.from_rpc_error(exc)
        print(json.dumps({"error": err.name, "message": err.message}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


def cli_tls(settings: settings_module.Settings) -> tls.TlsFiles | None:
    """The certificate the CLI presents: the environment's, else the local run's, else none."""
    configured = tls.files(settings)
    if configured is not None:
        return configured
    local = Path(settings.env("OUTBOUND_RUN_DIR", ".run")) / "tls"
    found = tls.TlsFiles(str(local / "cli.crt"), str(local / "cli.key"), str(local / "ca.crt"))
    return found if all(Path(p).is_file() for p in (found.cert, found.key, found.ca)) else None


def service_address(settings: settings_module.Settings, service: str) -> str:
    """<NAME>_ADDR, else GRPC_BASE_PORT + the service's index (as `outbound run`), else the default."""
    explicit = settings.env(f"{service.upper()}_ADDR", "")
    if explicit:
        return explicit
    base = settings.env("GRPC_BASE_PORT", "")
    if base:
        return f"127.0.0.1:{int(base) + SERVICES.index(service)}"
    return settings.address(service)


def _channel(settings: settings_module.Settings, service: str) -> grpc.Channel:
    address = service_address(settings, service)
    print(f"talking to {service} at {address}", file=sys.stderr)
    return rpc.blocking_channel(address, cli_tls(settings), service)


def _dispatch(args: argparse.Namespace, settings: settings_module.Settings) -> dict | list:
    if args.resource in ("org", "credits", "key"):
        with _channel(settings, "account") as channel:
            stub = account_pb2_grpc.AccountServiceStub(channel)
            if args.resource == "org" and args.action == "limits":
                return _org_limits(stub, args)
            if args.action == "list":
                return _account_list(stub, args)
            if args.resource == "org":
                answer = stub.CreateOrganization(account_pb2.CreateOrganizationRequest(
                    name=args.name, credits=args.credits), timeout=30)
                return {"organizationId": answer.organization.id, "apiKey": answer.api_key}
            if args.resource == "credits" and args.action == "add":
                answer = stub.AddCredits(account_pb2.AddCreditsRequest(
                    organization_id=args.org, amount=args.amount), timeout=30)
                return _credits(answer.credits)
            if args.resource == "credits":
                answer = stub.GetCredits(account_pb2.GetCreditsRequest(organization_id=args.org), timeout=30)
                return _credits(answer.credits)
            if args.action == "create":
                answer = stub.CreateApiKey(account_pb2.CreateApiKeyRequest(
                    organization_id=args.org, name=args.name), timeout=30)
                return {"apiKeyId": answer.api_key_id, "apiKey": answer.api_key}
            stub.RevokeApiKey(account_pb2.RevokeApiKeyRequest(api_key_id=args.id), timeout=30)
            return {"apiKeyId": args.id, "revoked": True}
    with _channel(settings, "dialer") as channel:
        stub = dialer_pb2_grpc.DialerServiceStub(channel)
        if args.action == "list":
            request = dialer_pb2.ListDidsRequest()
            if args.org:
                request.organization_id = args.org
            return [_did(d) for d in stub.ListDids(request, timeout=30).dids]
        if args.action == "add":
            request = dialer_pb2.AddDidRequest(number=args.number, country=args.country, inactive=args.inactive)
            if args.org:
                request.organization_id = args.org
            return _did(stub.AddDid(request, timeout=30))
        if args.action == "set-status":
            return _did(stub.SetDidStatus(dialer_pb2.SetDidStatusRequest(id=args.id, status=args.status), timeout=30))
        return _did(stub.DeleteDid(dialer_pb2.DeleteDidRequest(id=args.id), timeout=30))


def _account_list(stub: account_pb2_grpc.AccountServiceStub, args: argparse.Namespace) -> list[dict]:
    if args.resource == "org":
        orgs = stub.ListOrganizations(account_pb2.ListOrganizationsRequest(), timeout=30).organizations
        return [{"id": o.id, "name": o.name, "createdAt": o.created_at} for o in orgs]
    keys = stub.ListApiKeys(account_pb2.ListApiKeysRequest(organization_id=args.org), timeout=30).api_keys
    return [{"id": k.id, "name": k.name, "prefix": k.prefix, "createdAt": k.created_at,
             "revokedAt": k.revoked_at or None} for k in keys]


def _org_limits(stub: account_pb2_grpc.AccountServiceStub, args: argparse.Namespace) -> dict[str, object]:
    """Without a change option: the limits as they are; else the change (reset first), then them."""
    changes = {"max_concurrent_calls": args.concurrent, "max_calls_per_second": args.cps, "weight": args.weight}
    given = {name: value for name, value in changes.items() if value is not None}
    if not given and not args.reset:
        return _dispatch_limits(args.org, stub.GetDispatchLimits(
            account_pb2.GetDispatchLimitsRequest(organization_id=args.org), timeout=30))
    return _dispatch_limits(args.org, stub.SetDispatchLimits(account_pb2.SetDispatchLimitsRequest(
        organization_id=args.org, reset=args.reset, **given), timeout=30))


__all__ = ["add_parser", "run"]
