"""`outbound run` (what `make run` calls): the whole system on this machine.

Starts PostgreSQL, Redis and NATS from the wheels (data in .run/, kept between runs)
unless DATABASE_URL / REDIS_URL / NATS_URL name servers to use, applies migrations,
starts every service and the gateway, creates the demo organization once, and prints
its API key. Ctrl-C stops everything.

Every listener is on loopback, and every gRPC hop is mutual TLS with a throwaway CA and one
certificate per process under .run/tls/ (made once, reused while valid); `outbound admin`
finds the CLI's certificate there.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from kernel import migrations
from kernel import settings as settings_module
from kernel.clock import Clock
from outbound_cli import devcerts
from outbound_cli.devservers import Nats, Postgres, Redis
from outbound_cli.supervisor import ProcessGroup, grpc_channel

TLS_DIR = "tls"


def _servers(settings: settings_module.Settings, run_dir: Path, stack: list) -> dict[str, str]:
    """The servers' URLs: those the environment names, or servers of ours started in `run_dir`."""
    urls = {}
    if settings.env("DATABASE_URL"):
        urls["DATABASE_URL"] = settings.database_url
    else:
        pg = Postgres(run_dir / "postgres", durable=True).start()
        stack.append(pg)
        urls["DATABASE_URL"] = pg.create_database("outbound")
    if settings.env("REDIS_URL"):
        urls["REDIS_URL"] = settings.redis_url
    else:
        redis = Redis(run_dir / "redis", durable=True).start()
        stack.append(redis)
        urls["REDIS_URL"] = redis.url()
    if settings.env("NATS_URL"):
        urls["NATS_URL"] = settings.nats_url
    else:
        nats = Nats(run_dir / "nats").start()
        stack.append(nats)
        urls["NATS_URL"] = nats.url()
    return urls


def create_demo(env: dict[str, str]) -> dict:
    """Demo organization with credits, two shared DIDs and a demo flow."""
    from outbound.account.v1 import account_pb2, account_pb2_grpc
    from outbound.dialer.v1 import dialer_pb2, dialer_pb2_grpc

    with grpc_channel(env, "account") as channel:
        org = account_pb2_grpc.AccountServiceStub(channel).CreateOrganization(
            account_pb2.CreateOrganizationRequest(name="Demo", credits=1000), timeout=30)
    with grpc_channel(env, "dialer") as channel:
        dids = dialer_pb2_grpc.DialerServiceStub(channel)
        numbers = [dids.AddDid(dialer_pb2.AddDidRequest(number=n, country="MA"), timeout=30).id
                   for n in ("+212500000001", "+212500000002")]
        flow = dialer_pb2_grpc.FlowServiceStub(channel).CreateFlow(dialer_pb2.CreateFlowRequest(
            organization_id=org.organization.id, name="Payment reminder", start_node_id="welcome",
            nodes=[
                dialer_pb2.FlowNode(id="welcome", type="say", text="Hello, this is a payment reminder.",
                                    next="menu"),
                dialer_pb2.FlowNode(id="menu", type="gather", prompt="Press 1 to confirm, 2 for an agent.",
                                    options={"1": "confirmed", "2": "agent"}, timeout_seconds=5,
                                    no_input="goodbye"),
                dialer_pb2.FlowNode(id="confirmed", type="say", text="Thank you.", next="goodbye"),
                dialer_pb2.FlowNode(id="agent", type="transfer", to="+212500000099", next="goodbye"),
                dialer_pb2.FlowNode(id="goodbye", type="hangup"),
            ]), timeout=30)
    return {"organizationId": org.organization.id, "apiKey": org.api_key, "didIds": numbers, "flowId": flow.id}


def run_local() -> int:
    settings = settings_module.get()
    run_dir = Path(settings.env("OUTBOUND_RUN_DIR", ".run"))
    base_port = int(settings.env("GRPC_BASE_PORT", "50051"))
    run_dir.mkdir(parents=True, exist_ok=True)
    stack: list = []
    group: ProcessGroup | None = None
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        urls = _servers(settings, run_dir, stack)
        print("applying migrations…", flush=True)
        migrations.upgrade(urls["DATABASE_URL"])
        port = str(settings.http_port)
        tls_dir = devcerts.ensure(run_dir / TLS_DIR)
        env = {**urls, **ProcessGroup.addresses(base_port), "PORT": port,
               **devcerts.files_for(tls_dir, "cli").env(),
               # Local receivers (a webhook to 127.0.0.1) are what a developer's machine has.
               "WEBHOOK_ALLOW_PRIVATE": settings.env("WEBHOOK_ALLOW_PRIVATE", "1")}
        env.update(Clock.from_settings(settings).env())
        group = ProcessGroup(env=env, log_dir=run_dir / "logs", tls_dir=tls_dir)
        group.start_all()
        demo_file = run_dir / "demo.json"
        if not demo_file.exists():
            demo_file.write_text(json.dumps(create_demo(env), indent=2))
        demo = json.loads(demo_file.read_text())
        base = f"http://127.0.0.1:{port}/api"
        print(f"""
Outbound is running on {base}  (logs in {run_dir / 'logs'}, Ctrl-C to stop)
Services speak mutual TLS on 127.0.0.1; certificates in {tls_dir}

  demo organization: {demo['organizationId']}
  demo API key:      {demo['apiKey']}
  demo flow:         {demo['flowId']}
  shared DIDs:       {', '.join(demo['didIds'])}

Try:
  curl -s {base}/time
  curl -s -H 'x-api-key: {demo['apiKey']}' {base}/dids/available
""", flush=True)
        while not stop.wait(1.0):
            for proc in list(group.procs):
                if proc.popen.poll() is not None:
                    print(f"{proc.name} exited ({proc.popen.returncode}); restarting", flush=True)
                    group.procs.remove(proc)
                    group.start(proc.name, proc.instance, port=proc.port)
        return 0
    finally:
        print("stopping…", flush=True)
        if group is not None:
            group.stop_all()
        for server in reversed(stack):
            server.stop()
