"""Telemetry of the coordinator.

- Prometheus metrics: `CoordinatorMetrics` (recorded by the runtime once per handoff), the gauges read from the
  store at scrape time (`StoreGauges`), the spend and circuit-breaker alerts, and the `/metrics` endpoint
  (`metrics_route`; `serving_metrics` for a worker without the API).
- OpenTelemetry spans (`run_span`, `handoff_span`, `judgment_span`, `tool_span`, `approved_call_span`,
  `tenant_span`) and the run's trace id (`trace_id_of`). Setting up a process's exporter, shared with the
  servers, is `mcp_servers.kit.setup_tracing`.

May import the rest of the coordinator below the API (the store, the resilience wrappers) and the boundary kit,
whose `Exposition` and `MetricsEndpoint` every deskhand process's `/metrics` shares. See docs/observability.md.
"""

from coordinator.telemetry._alerts import SPEND_THRESHOLDS, BreakerWatch, SpendAlerts
from coordinator.telemetry._endpoint import metrics_address, metrics_route, serving_metrics
from coordinator.telemetry._gauges import StoreGauges
from coordinator.telemetry._metrics import CoordinatorMetrics
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
    "SPEND_THRESHOLDS",
    "BreakerWatch",
    "CoordinatorMetrics",
    "SpendAlerts",
    "StoreGauges",
    "approved_call_span",
    "current_traceparent",
    "handoff_span",
    "judgment_span",
    "mark_run",
    "metrics_address",
    "metrics_route",
    "record_usage",
    "run_span",
    "serving_metrics",
    "tenant_span",
    "tool_span",
    "trace_id_of",
]
