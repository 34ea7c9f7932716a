"""Telemetry: the coordinator's Prometheus metrics (`CoordinatorMetrics`, recorded by the runtime once per handoff),
the gauges read from the store at scrape time, the spend and circuit-breaker alerts, and the `/metrics` endpoint
(`metrics_route`; `serving_metrics` for a worker without the API).

May import the rest of the coordinator below the API (the store, the resilience wrappers) and the boundary kit,
whose `Exposition` and `MetricsEndpoint` every deskhand process's `/metrics` shares. See docs/observability.md.
"""

from coordinator.telemetry._alerts import SPEND_THRESHOLDS, BreakerWatch, SpendAlerts
from coordinator.telemetry._endpoint import metrics_address, metrics_route, serving_metrics
from coordinator.telemetry._gauges import StoreGauges
from coordinator.telemetry._metrics import CoordinatorMetrics

__all__ = [
    "SPEND_THRESHOLDS",
    "BreakerWatch",
    "CoordinatorMetrics",
    "SpendAlerts",
    "StoreGauges",
    "metrics_address",
    "metrics_route",
    "serving_metrics",
]
