"""Settings read from the environment; one frozen object per process."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote

# Default gRPC ports per service; each is overridable with <NAME>_ADDR / GRPC_PORT.
DEFAULT_PORTS = {
    "account": 50051,
    "audience": 50052,
    "dialer": 50053,
    "program": 50054,
    "execution": 50055,
    "trigger": 50056,
    "webhooks": 50057,
}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# Characters NATS credentials may hold: the NATS client sends a URL's user and password as
# written, without percent-decoding, so nothing else survives the trip.
_URL_SAFE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=-]+")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable, never its value."""


def _with_userinfo(url: str, userinfo: str) -> str:
    """`url` (each of a comma-separated list) with `userinfo` before its host, unless it has one."""
    out = []
    for one in url.split(","):
        one = one.strip()
        scheme, sep, rest = one.partition("://")
        out.append(one if not sep or "@" in rest.split("/", 1)[0] else f"{scheme}://{userinfo}@{rest}")
    return ",".join(out)


def _nats_url(url: str, user: str, password: str) -> str:
    if not user and not password:
        return url
    if not (user and password):
        raise SettingsError("NATS_USER and NATS_PASSWORD are set together or not at all")
    for name, value in (("NATS_USER", user), ("NATS_PASSWORD", password)):
        if not _URL_SAFE.fullmatch(value):
            raise SettingsError(f"{name} may hold letters, digits and ._~!$&'()*+,;=- only")
    return _with_userinfo(url, f"{user}:{password}")


def _redis_url(url: str, password: str) -> str:
    return _with_userinfo(url, ":" + quote(password, safe="")) if password else url


@dataclass(frozen=True)
class Settings:
    # Server URLs may carry passwords: never part of the settings' repr, so never of a log line.
    database_url: str = field(default="postgresql://postgres@127.0.0.1:5432/outbound", repr=False)
    redis_url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    nats_url: str = field(default="nats://127.0.0.1:4222", repr=False)
    log_level: str = "INFO"
    # Seconds between NOT_SERVING and the stop of the gRPC server on SIGTERM.
    drain_seconds: float = 1.0
    # Seconds in-flight RPCs get to finish once the server stops.
    grace_seconds: float = 5.0
    addresses: dict[str, str] = field(default_factory=dict)
    grpc_port: int | None = None
    # The address a service's gRPC server listens on (loopback unless the deployment says so),
    # and a plaintext port answering only the health check (None: none), for probes that
    # cannot present a certificate (the kubelet's).
    grpc_host: str = "127.0.0.1"
    grpc_health_port: int | None = None
    # Mutual TLS between services (kernel.tls): this process's certificate, its key, and the CA
    # every peer's certificate must be signed by. All three or none.
    grpc_tls_cert: str = ""
    grpc_tls_key: str = ""
    grpc_tls_ca: str = ""
    db_pool_size: int = 10
    # Execution: orchestrator pace, contact leases and how long a dial request may wait.
    orchestrator_tick_seconds: float = 0.2
    lease_seconds: float = 120.0
    dial_request_ttl_seconds: float = 30.0
    # Trigger: how long a claimed trigger waits for its publish before the sweeper takes it.
    trigger_publish_lease_seconds: float = 15.0
    # Dialer: which carrier places calls, and the simulated carrier's rules file.
    carrier: str = "sim"
    sim_carrier_rules: str = ""
    # Gateway: request size and per-key rate limit (0 turns it off; burst defaults to twice the rate).
    max_body_bytes: int = 2 * 1024 * 1024
    rate_limit_per_second: float = 100.0
    rate_limit_burst: float | None = None
    # Gateway: the HTTP address it listens on.
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Observability: the /metrics port (None: beside the gRPC port; 0 turns it off) and address,
    # and where spans are exported ("none", "console" or "otlp").
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    otel_traces_exporter: str = "none"
    # The shared clock (kernel.clock): speed, virtual start (ISO 8601, "" for now) and the real
    # instant it is anchored at (epoch seconds; None for this process's start).
    clock_speed: float = 1.0
    clock_start: str = ""
    clock_anchor: float | None = None
    # Every process's raw environment, for a context's own knobs read through `env`.
    raw: dict[str, str] = field(default_factory=dict, repr=False)

    def env(self, name: str, default: str = "") -> str:
        """A variable of this process's environment as the settings read it ("" counts as unset)."""
        value = self.raw.get(name)
        return value if value not in (None, "") else default

    def address(self, service: str) -> str:
        return self.addresses[service]

    def service_at(self, address: str) -> str | None:
        """The service reached at `address`, None when no service is."""
        return next((name for name, known in self.addresses.items() if known == address), None)

    def port_for(self, service: str) -> int:
        if self.grpc_port:
            return self.grpc_port
        return int(self.address(service).rsplit(":", 1)[1])


def load() -> Settings:
    addresses = {
        name: _env(f"{name.upper()}_ADDR", f"127.0.0.1:{port}") for name, port in DEFAULT_PORTS.items()
    }
    port = os.environ.get("GRPC_PORT")
    tls_files = [_env(name, "") for name in ("GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA")]
    if any(tls_files) and not all(tls_files):
        # Half a TLS set-up must not fall back to plaintext.
        raise SettingsError("GRPC_TLS_CERT, GRPC_TLS_KEY and GRPC_TLS_CA are set together or not at all")
    return Settings(
        database_url=_env("DATABASE_URL", Settings.database_url),
        redis_url=_redis_url(_env("REDIS_URL", Settings.redis_url), _env("REDIS_PASSWORD", "")),
        nats_url=_nats_url(_env("NATS_URL", Settings.nats_url), _env("NATS_USER", ""), _env("NATS_PASSWORD", "")),
        log_level=_env("LOG_LEVEL", "INFO"),
        drain_seconds=float(_env("DRAIN_SECONDS", "1.0")),
        grace_seconds=float(_env("GRACE_SECONDS", "5.0")),
        addresses=addresses,
        grpc_port=int(port) if port else None,
        grpc_host=_env("GRPC_HOST", "127.0.0.1"),
        grpc_health_port=int(health) if (health := _env("GRPC_HEALTH_PORT", "")) else None,
        grpc_tls_cert=tls_files[0],
        grpc_tls_key=tls_files[1],
        grpc_tls_ca=tls_files[2],
        db_pool_size=int(_env("DB_POOL_SIZE", "10")),
        orchestrator_tick_seconds=float(_env("ORCHESTRATOR_TICK_SECONDS", "0.2")),
        lease_seconds=float(_env("LEASE_SECONDS", "120")),
        dial_request_ttl_seconds=float(_env("DIAL_REQUEST_TTL_SECONDS", "30")),
        trigger_publish_lease_seconds=float(_env("TRIGGER_PUBLISH_LEASE_SECONDS", "15")),
        carrier=_env("CARRIER", "sim").strip().lower(),
        sim_carrier_rules=_env("SIM_CARRIER_RULES", ""),
        max_body_bytes=int(_env("MAX_BODY_BYTES", str(2 * 1024 * 1024))),
        rate_limit_per_second=float(_env("RATE_LIMIT_PER_SECOND", "100")),
        rate_limit_burst=float(burst) if (burst := _env("RATE_LIMIT_BURST", "")) else None,
        http_host=_env("HOST", "127.0.0.1"),
        http_port=int(_env("PORT", "8080")),
        metrics_port=int(metrics) if (metrics := _env("METRICS_PORT", "")) else None,
        metrics_host=_env("METRICS_HOST", "127.0.0.1"),
        otel_traces_exporter=_env("OTEL_TRACES_EXPORTER", "none").lower(),
        clock_speed=float(_env("CLOCK_SPEED", "1")),
        clock_start=_env("CLOCK_START", ""),
        clock_anchor=float(anchor) if (anchor := _env("CLOCK_ANCHOR", "")) else None,
        raw=dict(os.environ),
    )


@lru_cache(maxsize=1)
def get() -> Settings:
    return load()
