"""Prometheus metrics every service exposes on /metrics (settings.metrics_port).

The metric objects live here so each context records into the same names; a process only
exports what it touches. The gRPC runtime records RPC latency by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from kernel import logs
from kernel.settings import Settings

log = logs.get("kernel.metrics")

GRPC_LATENCY = Histogram(
    "outbound_grpc_server_handling_seconds", "gRPC server handling time per method and status code",
    ["method", "code"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CALLS_PLACED = Counter("outbound_calls_placed_total", "Calls placed by the dialer, per outcome", ["outcome"])
DIAL_REQUESTS_IN_FLIGHT = Gauge("outbound_dial_requests_in_flight", "Dial requests the dialer is working on")
CLAIM_LATENCY = Histogram(
    "outbound_orchestrator_claim_seconds", "Time of one orchestrator claim of due contacts",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
TRIGGER_LAG = Histogram(
    "outbound_trigger_lag_seconds",
    "Real seconds from a trigger's triggerAt (its creation, when it was born due) to its firing",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 30),
)
CONSUMER_REDELIVERIES = Counter(
    "outbound_consumer_redeliveries_total", "JetStream messages delivered more than once", ["consumer"],
)


def observe_rpc(method: str, code: str, seconds: float) -> None:
    GRPC_LATENCY.labels(method=method, code=code).observe(seconds)


def redelivery_counter(consumer: str) -> Callable[[int], None]:
    """A callback for jetstream.run_pull_consumer(on_redelivery=…)."""
    child = CONSUMER_REDELIVERIES.labels(consumer=consumer)
    return child.inc


def serve(settings: Settings, default_port: int | None = None) -> int | None:
    """Start the /metrics HTTP endpoint on METRICS_PORT (or default_port); 0 disables it."""
    port = settings.metrics_port if settings.metrics_port is not None else default_port
    if not port:
        return None
    try:
        start_http_server(port, addr=settings.metrics_host)
    except OSError as exc:  # a port clash must not take the service down
        log.warning("metrics endpoint not started", extra={"port": port, "error": str(exc)})
        return None
    return port
