"""OpenTelemetry tracing: W3C trace context carried across gRPC metadata and NATS headers.

Spans are always made, so context flows from the gateway through every service and event;
they are exported only when OTEL_TRACES_EXPORTER names an exporter ("console", or "otlp"
when opentelemetry-exporter-otlp is installed). Off by default. Log lines carry the trace id
of the current span: this module hands logs its lookup (logs imports nothing of tracing).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from kernel import logs
from kernel import settings as settings_module

log = logs.get("kernel.tracing")
_configured = False


def setup(service: str, settings: settings_module.Settings | None = None) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": f"outbound-{service}"}))
    exporter_name = (settings or settings_module.get()).otel_traces_exporter.lower()
    if exporter_name == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter_name == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("OTEL_TRACES_EXPORTER=otlp needs opentelemetry-exporter-otlp; not exporting")
        else:
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def tracer() -> trace.Tracer:
    return trace.get_tracer("outbound")


def inject() -> dict[str, str]:
    """The current trace context as headers (traceparent, tracestate)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def grpc_metadata() -> tuple[tuple[str, str], ...]:
    return tuple(inject().items())


@contextmanager
def span_from(carrier: Mapping[str, str] | None, name: str,
              kind: trace.SpanKind = trace.SpanKind.SERVER) -> Iterator[trace.Span]:
    """A span whose parent is the context in `carrier` (headers or metadata)."""
    parent = propagate.extract(dict(carrier or {}))
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            yield span
    finally:
        otel_context.detach(token)


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None


logs.trace_ids(current_trace_id)
