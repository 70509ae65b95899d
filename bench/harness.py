"""The real system on embedded servers, set up for benchmarks, and the helpers the scenarios share.

Every service runs as its own process (the test harness's ProcessGroup); the simulated
carrier answers at once, the channel and DID caps are far above what one machine dials,
and the gateway's rate limit is off so the load generator measures the API, not the limit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg

from kernel.db import libpq_url
from kernel.timefmt import iso
from tests.support.infra import Infra
from tests.support.system import DEFAULT_FLOW, Org, System

INSTANT_CARRIER = {"default": {"outcomes": ["answered"], "ringSeconds": 0, "talkSeconds": 0, "digits": []}}
MAX_CONCURRENT_CALLS = 1000  # the program maximum

BENCH_ENV = {
    "DIALER_MAX_CHANNELS": "4000",
    "DID_MAX_CONCURRENT_CALLS": "4000",
    "RATE_LIMIT_PER_SECOND": "0",
    "LOG_LEVEL": "WARNING",
}


def scale() -> float:
    return float(os.environ.get("BENCH_SCALE") or 1.0)


def sized(name: str, default: int) -> int:
    """A scenario size: BENCH_<NAME> if set, else the issue's size times BENCH_SCALE."""
    raw = os.environ.get(f"BENCH_{name}")
    return int(raw) if raw else max(1, int(default * scale()))


class Bench:
    """One running system plus direct database access for set-up and measurement."""

    def __init__(self, root: Path | None = None, *, clock_speed: float = 5.0, extra_env: dict[str, str] | None = None,
                 replicas: dict[str, int] | None = None):
        self.root = root or Path(tempfile.mkdtemp(prefix="outbound-bench-"))
        self.infra = Infra(self.root).start()
        self._clock_speed = clock_speed
        self._extra_env = {**BENCH_ENV, **(extra_env or {})}
        self._replicas = replicas
        self.system: System | None = None

    def start_system(self, clock_speed: float | None = None, extra_env: dict[str, str] | None = None) -> System:
        """A fresh system (own database, NATS, Redis) on the shared PostgreSQL server."""
        self.stop_system()
        workdir = Path(tempfile.mkdtemp(dir=self.root, prefix="system-"))
        self.system = System(self.infra, workdir, clock_speed=clock_speed or self._clock_speed,
                             sim_rules=INSTANT_CARRIER, replicas=self._replicas,
                             extra_env={**self._extra_env, **(extra_env or {})})
        try:
            self.system.start()
        except Exception:
            print(self.system.logs())
            raise
        return self.system

    def stop_system(self) -> None:
        if self.system is not None:
            self.system.stop()
            self.system = None

    def close(self, keep: bool = False) -> None:
        """Stop everything; the servers' data (gigabytes after a full run) is removed unless `keep`."""
        self.stop_system()
        self.infra.stop()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------ database

    @contextmanager
    def db(self):
        assert self.system is not None
        with psycopg.connect(libpq_url(self.system.database_url), autocommit=True) as conn:
            yield conn

    def pids(self) -> dict[str, int]:
        """Every Outbound process of the running system ("dialer", or "dialer-1" for a second replica)."""
        assert self.system is not None
        return {p.name if p.instance == 0 else f"{p.name}-{p.instance}": p.popen.pid
                for p in self.system.group.procs if p.popen.poll() is None}

    def server_pids(self) -> dict[str, int]:
        """The embedded servers: PostgreSQL (postmaster; its backends are its children), NATS, Redis."""
        assert self.system is not None
        out = {}
        if self.infra.pg is not None and self.infra.pg.proc is not None:
            out["postgres"] = self.infra.pg.proc.pid
        if self.system.nats is not None and self.system.nats.proc is not None:
            out["nats"] = self.system.nats.proc.pid
        if self.system.redis is not None and self.system.redis.proc is not None:
            out["redis"] = self.system.redis.proc.pid
        return out

    def cpu_meter(self):
        from bench.procstats import CpuMeter

        return CpuMeter({**self.pids(), **self.server_pids()}, with_children=frozenset({"postgres"}))


class Tenant:
    """An organization with a flow and a pool of DIDs, driven through REST like a client."""

    def __init__(self, system: System, credits: int = 100_000_000, dids: int = 5):
        self.system = system
        self.org: Org = system.create_org("Bench", credits=credits)
        self.org.http.timeout = 600
        flow = self.org.post("/flows", json=DEFAULT_FLOW)
        flow.raise_for_status()
        self.flow_id = flow.json()["id"]
        base = uuid.uuid4().int % 9_000_000
        self.did_ids = [system.add_did(f"+2125{base + i:08d}", "MA", org=self.org.id).id for i in range(dids)]

    def program(self, audience_id: str | None, **changes: Any) -> dict[str, Any]:
        body = {
            "name": f"Bench {uuid.uuid4().hex[:6]}",
            "audienceId": audience_id,
            "flowId": self.flow_id,
            "startAt": iso(self.system.now() - timedelta(minutes=1)),
            "didPool": self.did_ids,
            "retryStrategy": {"type": "none"},
            "maxConcurrentCalls": MAX_CONCURRENT_CALLS,
        }
        if audience_id is None:
            body.pop("audienceId")
        body.update(changes)
        answer = self.org.post("/programs", json=body)
        if answer.status_code != 201:
            raise RuntimeError(f"program refused: {answer.status_code} {answer.text}")
        return answer.json()

    def launch(self, program_id: str) -> str:
        answer = self.org.post(f"/programs/{program_id}/launch")
        if answer.status_code != 201:
            raise RuntimeError(f"launch refused: {answer.status_code} {answer.text}")
        return answer.json()["executionId"]

    def execution(self, execution_id: str) -> dict[str, Any]:
        answer = self.org.get(f"/program-executions/{execution_id}")
        answer.raise_for_status()
        return answer.json()


def poll(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
