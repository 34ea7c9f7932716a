"""The OpenTelemetry SDK's part of `setup_tracing` (imported only when traces are on: it needs `deskhand[otel]`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from mcp_servers.kit._tracing import INHERITED, SPECIALIST, TENANT
from schemas import SPECIALIST_SUBJECT_PREFIX


def install(service: str) -> None:
    """The global tracer provider: OTLP/HTTP export in batches (`OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`), the sampler
    of `OTEL_TRACES_SAMPLER`, flushed when the process exits."""
    named = {} if os.environ.get("OTEL_SERVICE_NAME", "").strip() else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(RunAttributes())
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


class RunAttributes(SpanProcessor):
    """Each span starts with the run attributes of its parent span in this process, and in a server with the
    tenant and specialist of the caller's token (the MCP SDK opens the server's spans, not deskhand)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        parent: Any = trace.get_current_span(parent_context)
        inherited = getattr(parent, "attributes", None)  # a span of this process (a remote parent has none)
        if inherited:
            span.set_attributes({name: inherited[name] for name in INHERITED if name in inherited})
        access = get_access_token()
        if access is not None and access.claims:
            span.set_attributes(caller_attributes(access.claims))


def caller_attributes(claims: Mapping[str, Any]) -> dict[str, str]:
    """The tenant and, for a specialist's token, the specialist a verified token names."""
    attributes: dict[str, str] = {}
    tenant, subject = claims.get("tenant"), claims.get("sub")
    if isinstance(tenant, str):
        attributes[TENANT] = tenant
    if isinstance(subject, str) and subject.startswith(SPECIALIST_SUBJECT_PREFIX):
        attributes[SPECIALIST] = subject.removeprefix(SPECIALIST_SUBJECT_PREFIX)
    return attributes
