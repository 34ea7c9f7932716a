"""Telemetry of the coordinator: its OpenTelemetry spans (`run_span`, `handoff_span`, `judgment_span`, `tool_span`,
`approved_call_span`, `tenant_span`) and the run's trace id (`trace_id_of`). Setting up a process's exporter,
shared with the servers, is `mcp_servers.kit.setup_tracing`."""

from coordinator.telemetry._traces import (
    approved_call_span,
    current_traceparent,
    handoff_span,
    judgment_span,
    mark_run,
    record_usage,
    run_span,
    tenant_span,
    tool_span,
    trace_id_of,
)

__all__ = [
    "approved_call_span",
    "current_traceparent",
    "handoff_span",
    "judgment_span",
    "mark_run",
    "record_usage",
    "run_span",
    "tenant_span",
    "tool_span",
    "trace_id_of",
]
