"""`setup_tracing`: off unless an OTLP endpoint is configured, and a no-op, said once, without the `otel` extra."""

from __future__ import annotations

import logging
import sys

import pytest
from opentelemetry import trace

from mcp_servers.kit import setup_tracing, tracing_configured


def test_traces_are_off_unless_an_otlp_endpoint_is_configured() -> None:
    assert not tracing_configured({})
    assert not tracing_configured({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert not tracing_configured({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing_configured({**endpoint, "OTEL_TRACES_EXPORTER": "none"})


def test_setup_is_a_no_op_when_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert setup_tracing("deskhand-crm") is False
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def test_without_the_sdk_setup_says_so_and_sets_nothing_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delitem(sys.modules, "mcp_servers.kit._tracing_sdk", raising=False)
    for module in ("opentelemetry.sdk", "opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http"):
        monkeypatch.setitem(sys.modules, module, None)  # as if `deskhand[otel]` were not installed
    with caplog.at_level(logging.WARNING, logger="mcp_servers.kit._tracing"):
        assert setup_tracing("deskhand-crm") is False
    assert "pip install deskhand[otel]" in caplog.text
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
