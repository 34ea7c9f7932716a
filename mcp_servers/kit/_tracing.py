"""OpenTelemetry traces of a deskhand process: set up from the standard `OTEL_*` variables, off unless configured.

The MCP SDK already opens a span for each request a server handles (continued from the `traceparent` in the
request's `_meta`) and for each request a client sends (injecting its context there), and the Anthropic SDK one
for each API call; deskhand adds its own (a run, a handoff, a judgment, a tool call, a tool's transaction) and
configures the provider they all report to. Every span carries the tenant (`deskhand.tenant`), and the run and
the specialist where known: copied from its parent in the same process, or, in a server, taken from the caller's
token.

Without the `deskhand[otel]` extra (the SDK and the OTLP exporter), or with no OTLP endpoint configured, nothing
is set up: the SDKs' spans are the OpenTelemetry API's no-op ones, and deskhand opens none.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from schemas import DeskhandError

TENANT = "deskhand.tenant"
RUN_ID = "deskhand.run_id"
SPECIALIST = "deskhand.specialist"
INHERITED = (TENANT, RUN_ID, SPECIALIST)
"""The attributes every span of a run carries, copied from its parent span in the same process."""

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("deskhand")


def tracing_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint is set, and neither the SDK nor the traces
    exporter is turned off (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def setup_tracing(service: str) -> bool:
    """Export this process's spans over OTLP/HTTP as `service` (`OTEL_SERVICE_NAME` wins when set), sampled by
    `OTEL_TRACES_SAMPLER`, batched and flushed at exit; returns whether traces are on. Called once, at the start
    of each deskhand process; a no-op when not configured (see `tracing_configured`) or when the `otel` extra is
    not installed (said once in the log)."""
    if not tracing_configured():
        return False
    try:
        from mcp_servers.kit._tracing_sdk import install
    except ImportError:
        logger.warning("OTEL_* asks for traces, but the OpenTelemetry SDK is not installed: pip install deskhand[otel]")
        return False
    install(service)
    return True


def mark_call(tenant: str, run_id: Any) -> None:
    """Name the tenant and the run a server's tool call is made for on its span (the one the MCP SDK opened for
    the request): over stdio there is no token in the request's context to take them from."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute(TENANT, tenant)
        if isinstance(run_id, str) and run_id:
            span.set_attribute(RUN_ID, run_id)


@contextmanager
def transaction_span(tool: str, tenant: str, database: str) -> Iterator[None]:
    """A span for the database transaction of one tool call (`database`: the dialect, e.g. sqlite). A failure sets
    `error.type` to the exception's class, not its message (the database's quotes the statement's values).
    Skipped when the request's span records nothing (traces off, or not sampled): a no-op span is not free."""
    if not trace.get_current_span().is_recording():
        yield
        return
    with _tracer.start_as_current_span(
        f"transaction {tool}",
        kind=trace.SpanKind.CLIENT,
        attributes={"db.system.name": database, "db.operation.name": "transaction", TENANT: tenant},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            span.set_attribute("error.type", exc.code if isinstance(exc, DeskhandError) else type(exc).__qualname__)
            span.set_status(trace.StatusCode.ERROR)
            raise
