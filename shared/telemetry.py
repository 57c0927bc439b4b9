"""OpenTelemetry: one tracer provider per process, W3C trace context in Kafka headers.

The exporter is off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; spans are still
created, so trace ids reach logs, outbox rows and Kafka headers either way.
"""

from collections.abc import Iterable, Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def configure_tracing(service: str, otlp_endpoint: str | None = None) -> None:
    """Install the global tracer provider once; export over OTLP/HTTP when configured."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    _configured = True


def current_trace_headers() -> dict[str, str]:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_kafka_headers(
    headers: Iterable[tuple[str, bytes]] | Mapping[str, str],
) -> otel_context.Context:
    """Extract a trace context from Kafka headers."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    carrier = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in items}
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside a span."""
    span = trace.get_current_span().get_span_context()
    return format(span.trace_id, "032x") if span.is_valid else None
