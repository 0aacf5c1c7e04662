"""OpenTelemetry for every hub process: one provider, OTLP when configured, JSON-lines file for tests.

Spans carry case numbers and department codes, never names, phones or ID numbers.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import INVALID_SPAN_ID, INVALID_TRACE_ID

from hub.config import Settings

_lock = threading.Lock()
_instrumented = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans to a file: lets tests and audits read spans across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            if ctx is None:
                continue
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "service": span.resource.attributes.get("service.name"),
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "kind": span.kind.name,
                        "start_ns": span.start_time,
                        "end_ns": span.end_time,
                        "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
                        "links": [format(link.context.trace_id, "032x") for link in span.links],
                    },
                    ensure_ascii=False,
                )
            )
        with _lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS


class SecretsIdGenerator(IdGenerator):
    """Trace and span ids from the OS's generator, not `random`: a library (or a fuzzer) that seeds `random`
    would otherwise make two processes, or two test runs, hand out the same trace ids."""

    def generate_span_id(self) -> int:
        span_id = secrets.randbits(64)
        while span_id == INVALID_SPAN_ID:
            span_id = secrets.randbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        trace_id = secrets.randbits(128)
        while trace_id == INVALID_TRACE_ID:
            trace_id = secrets.randbits(128)
        return trace_id


def configure_tracing(service: str, settings: Settings, extra: SpanExporter | None = None) -> TracerProvider:
    """Set the process's tracer provider once; later calls (in-process test hubs) reuse it."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"hub-{service}"}), id_generator=SecretsIdGenerator()
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint)))
    if settings.trace_file:
        # Batched off the event loop like the OTLP exporter: a span ends without a file write.
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesSpanExporter(settings.trace_file), schedule_delay_millis=500)
        )
    if extra is not None:
        provider.add_span_processor(SimpleSpanProcessor(extra))
    trace.set_tracer_provider(provider)
    return provider


# The URL attributes HTTP instrumentation records, old and new semantic conventions.
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full")


def without_query(span: trace.Span, *_ignored: Any) -> None:
    """Drop the query string from a request span's URL attributes.

    A query string is the caller's to fill: anything typed or sent in it (a phone, a name, a search
    for an ID number) would otherwise be copied into every span of the request; the path (codes, case
    numbers) stays. Used as the server and client instrumentations' request hooks.
    """
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if attributes.get("url.query"):
        span.set_attribute("url.query", "")


async def _without_query_async(span: trace.Span, *_ignored: Any) -> None:
    without_query(span)


def instrument_libraries() -> None:
    """aio-pika and httpx instrumentation; must run before any consumer starts (TARGETS.md)."""
    global _instrumented
    with _lock:
        if _instrumented:
            return
        from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        AioPikaInstrumentor().instrument()
        HTTPXClientInstrumentor().instrument(
            request_hook=without_query, async_request_hook=_without_query_async
        )
        _instrumented = True


def current_traceparent() -> tuple[str | None, str | None]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent"), carrier.get("tracestate")


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context:
    carrier = {k: v for k, v in (("traceparent", traceparent), ("tracestate", tracestate)) if v}
    return propagate.extract(carrier)


def split_traceparent(traceparent: str | None) -> tuple[str | None, str | None]:
    """'00-<trace>-<span>-01' → (trace_id, span_id)."""
    if not traceparent:
        return None, None
    parts = traceparent.split("-")
    if len(parts) != 4:
        return None, None
    return parts[1], parts[2]


def current_ids() -> tuple[str | None, str | None]:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def tracer(name: str = "hub") -> trace.Tracer:
    """The named tracer, created once (get_tracer builds a new one per call; spans are per message)."""
    found = _tracers.get(name)
    if found is None:
        found = _tracers[name] = trace.get_tracer(name)
    return found


_tracers: dict[str, trace.Tracer] = {}
