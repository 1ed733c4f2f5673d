"""OpenTelemetry traces: off unless DEEPLENS_TRACING names an exporter, and then free of cost when off
(the SDK and the instrumentations are not even imported).

    DEEPLENS_TRACING=otlp      OTLP over HTTP; endpoint, headers, sampling from the standard
                               OTEL_EXPORTER_OTLP_* / OTEL_TRACES_SAMPLER* variables
    DEEPLENS_TRACING=console   spans printed to stdout
    DEEPLENS_TRACING=file      one JSON object per span appended to DEEPLENS_TRACE_FILE
                               (default <data dir>/traces/spans.jsonl); every process may share it

Instrumented: Django requests, Celery (the trace context travels in the task headers, so an upload
request and every task it causes share one trace), psycopg, Redis, urllib, and the http.client
calls of URL imports (a span around each fetch). Processing stages get their own spans (`span`).
The service name is OTEL_SERVICE_NAME, else deeplens-web / deeplens-worker.
"""

import json
import os
import threading
from contextlib import nullcontext
from pathlib import Path

MODES = ("otlp", "console", "file")
_lock = threading.Lock()
_tracer = None


def tracing_mode() -> str:
    mode = os.environ.get("DEEPLENS_TRACING", "").strip().lower()
    return "" if mode in ("", "off", "none", "false", "0") else mode


def tracing_enabled() -> bool:
    return _tracer is not None


def trace_file_path() -> Path:
    configured = os.environ.get("DEEPLENS_TRACE_FILE", "").strip()
    if configured:
        return Path(configured)
    from deeplens.settings.env import data_dir

    return data_dir() / "traces" / "spans.jsonl"


def tracing_setup(*, service_name: str, django: bool = False) -> bool:
    """Install the tracer provider and the instrumentations once per process; False when off.
    With django=True, call it before the WSGI application is built (it adds a middleware)."""
    global _tracer
    mode = tracing_mode()
    if not mode:
        return False
    if mode not in MODES:
        raise ValueError(f"DEEPLENS_TRACING={mode!r}: expected one of {', '.join(MODES)} or empty (off).")
    with _lock:
        if _tracer is not None:
            return True
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        name = os.environ.get("OTEL_SERVICE_NAME") or service_name
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if mode == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif mode == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            # Written as each span ends: a worker killed at the end of a test or demo loses nothing.
            provider.add_span_processor(SimpleSpanProcessor(_json_lines_exporter(trace_file_path())))
        trace.set_tracer_provider(provider)
        _instrument(django=django)
        _tracer = trace.get_tracer("deeplens")
    return True


def _instrument(*, django: bool) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    if django:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    URLLibInstrumentor().instrument()


def span(name: str, **attributes):
    """A child span of whatever is current, or nothing at all when tracing is off."""
    if _tracer is None:
        return nullcontext()
    return _tracer.start_as_current_span(name, attributes=attributes or None)


def record_span(name: str, start_ns: int, end_ns: int, **attributes) -> None:
    """A finished span with given times, child of the current span (processing stages)."""
    if _tracer is None:
        return
    _tracer.start_span(name, attributes=attributes or None, start_time=start_ns).end(end_time=end_ns)


def current_trace_id() -> str:
    """The current trace id as 32 hex digits, '' when tracing is off or no span is open."""
    if _tracer is None:
        return ""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


def _json_lines_exporter(path: Path):
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class JsonLinesSpanExporter(SpanExporter):
        """Appends one compact JSON object per span; a line is one write() on an O_APPEND file, so
        the web server and the workers can share the file."""

        def __init__(self, target: Path):
            self.path = target
            self.path.parent.mkdir(parents=True, exist_ok=True)

        def export(self, spans):
            lines = "".join(json.dumps(span_as_dict(s), separators=(",", ":")) + "\n" for s in spans)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, lines.encode())
            finally:
                os.close(fd)
            return SpanExportResult.SUCCESS

        def shutdown(self):
            return None

    return JsonLinesSpanExporter(path)


def span_as_dict(span) -> dict:
    context = span.get_span_context()
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": span.resource.attributes.get("service.name"),
        "pid": os.getpid(),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "duration_ms": round((span.end_time - span.start_time) / 1e6, 3) if span.end_time else None,
        "status": span.status.status_code.name,
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
    }


def _plain(value):
    return list(value) if isinstance(value, tuple) else value
