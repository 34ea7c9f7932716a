"""Gauges read from the store when Prometheus scrapes, not kept by any process: every coordinator process (each
worker, the API) reports the same figures, whichever one is scraped."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from coordinator.store import Store


class StoreGauges(Collector):
    """The queue's depth, the leases held, the approvals waiting by tenant, and each tenant's spend today and what
    is left of its daily limit (`daily_limits()`: tenant → USD, read at each scrape)."""

    def __init__(self, store: Store, daily_limits: Callable[[], Mapping[str, float]]) -> None:
        self._store = store
        self._daily_limits = daily_limits

    def collect(self) -> Iterable[Metric]:
        snapshot = self._store.snapshot()
        limits = self._daily_limits()
        yield GaugeMetricFamily("deskhand_queue_depth", "Handoffs waiting to be claimed.", value=snapshot.pending)
        yield GaugeMetricFamily(
            "deskhand_leases", "Handoffs claimed by a worker whose lease holds.", value=snapshot.leased
        )
        approvals = GaugeMetricFamily(
            "deskhand_pending_approvals", "Calls waiting for a person's decision.", labels=["tenant"]
        )
        for tenant in sorted({*limits, *snapshot.approvals}):
            approvals.add_metric([tenant], snapshot.approvals.get(tenant, 0))
        yield approvals
        spent = GaugeMetricFamily(
            "deskhand_spend_today_usd", "What the tenant's model calls cost today (UTC).", labels=["tenant"]
        )
        left = GaugeMetricFamily(
            "deskhand_budget_left_usd", "What is left of the tenant's daily spend limit today (UTC).", labels=["tenant"]
        )
        for tenant in sorted(limits):
            usd = snapshot.spend_today.get(tenant, 0.0)
            spent.add_metric([tenant], usd)
            left.add_metric([tenant], max(0.0, limits[tenant] - usd))
        yield spent
        yield left
