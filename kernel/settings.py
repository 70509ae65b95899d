"""Settings read from the environment; one frozen object per process."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

# Default gRPC ports per service; each is overridable with <NAME>_ADDR / GRPC_PORT.
DEFAULT_PORTS = {
    "account": 50051,
    "audience": 50052,
    "dialer": 50053,
    "program": 50054,
    "execution": 50055,
    "trigger": 50056,
}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    database_url: str = "postgresql://postgres@127.0.0.1:5432/outbound"
    redis_url: str = "redis://127.0.0.1:6379/0"
    nats_url: str = "nats://127.0.0.1:4222"
    log_level: str = "INFO"
    # Seconds between NOT_SERVING and the stop of the gRPC server on SIGTERM.
    drain_seconds: float = 1.0
    # Seconds in-flight RPCs get to finish once the server stops.
    grace_seconds: float = 5.0
    addresses: dict[str, str] = field(default_factory=dict)
    grpc_port: int | None = None
    db_pool_size: int = 10

    def address(self, service: str) -> str:
        return self.addresses[service]

    def port_for(self, service: str) -> int:
        if self.grpc_port:
            return self.grpc_port
        return int(self.address(service).rsplit(":", 1)[1])


def load() -> Settings:
    addresses = {
        name: _env(f"{name.upper()}_ADDR", f"127.0.0.1:{port}") for name, port in DEFAULT_PORTS.items()
    }
    port = os.environ.get("GRPC_PORT")
    return Settings(
        database_url=_env("DATABASE_URL", Settings.database_url),
        redis_url=_env("REDIS_URL", Settings.redis_url),
        nats_url=_env("NATS_URL", Settings.nats_url),
        log_level=_env("LOG_LEVEL", "INFO"),
        drain_seconds=float(_env("DRAIN_SECONDS", "1.0")),
        grace_seconds=float(_env("GRACE_SECONDS", "5.0")),
        addresses=addresses,
        grpc_port=int(port) if port else None,
        db_pool_size=int(_env("DB_POOL_SIZE", "10")),
    )


@lru_cache(maxsize=1)
def get() -> Settings:
    return load()
