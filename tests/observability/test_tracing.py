"""Tracing is off by default and then costs nothing: no trace SDK, no instrumentation imported."""

import os
import subprocess
import sys

import pytest

from apps.core import tracing
from tests.runtime.product import ROOT

PROBE = """
import sys
import deeplens.wsgi  # the web server's entry point
import celery_app  # the workers'
from apps.core.metrics import StageClock
from apps.core.tracing import current_trace_id, span
clock = StageClock(image_id="x"); clock.lap("decode"); clock.done()
with span("nothing"):
    pass
assert current_trace_id() == ""
from opentelemetry import trace
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
# redis-py 8 imports opentelemetry.sdk.metrics by itself; the trace SDK and instrumentations stay out.
prefixes = ("opentelemetry.sdk.trace", "opentelemetry.instrumentation")
loaded = [m for m in sys.modules if m.startswith(prefixes)]
print(sorted(loaded))
"""


def test_without_deeplens_tracing_no_trace_sdk_or_instrumentation_is_imported(database_url, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_TRACING")}
    env.update(
        DJANGO_SETTINGS_MODULE="deeplens.settings.test", DATABASE_URL=database_url, REDIS_URL=redis_url
    )

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("value", ["", "off", "none", "0"])
def test_empty_or_off_means_off(monkeypatch, value):
    monkeypatch.setenv("DEEPLENS_TRACING", value)

    assert tracing.tracing_mode() == ""
    assert tracing.tracing_setup(service_name="test") is False


def test_an_unknown_exporter_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("DEEPLENS_TRACING", "jaeger")

    with pytest.raises(ValueError, match="expected one of otlp, console, file"):
        tracing.tracing_setup(service_name="test")
