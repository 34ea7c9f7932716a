"""Alerts: one log record and one count per crossing of a tenant's spend thresholds and per opening of a breaker,
however often they are checked after it."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry, Counter

from coordinator import CircuitBreaker
from coordinator.telemetry import BreakerWatch, SpendAlerts
from schemas import Unavailable


def alerts(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.alert for r in caplog.records if r.name == "deskhand.alerts"]  # type: ignore[attr-defined]


def test_a_tenant_crossing_80_and_100_percent_of_its_daily_spend_alerts_once_per_crossing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    counter = Counter("deskhand_spend_alerts", "test", ["tenant", "threshold"], registry=registry)
    watch = SpendAlerts(counter)
    caplog.set_level(logging.WARNING, logger="deskhand.alerts")
    for spent in (10.0, 39.9, 40.0, 41.0, 45.0, 50.0, 55.0, 60.0):
        watch.check("acme", spent, 50.0)
    watch.check("northwind", 30.0, 20.0)  # past both at once: both alerts
    assert alerts(caplog) == [
        {"kind": "spend", "tenant": "acme", "threshold": 0.8, "spent_usd": 40.0, "daily_limit_usd": 50.0},
        {"kind": "spend", "tenant": "acme", "threshold": 1.0, "spent_usd": 50.0, "daily_limit_usd": 50.0},
        {"kind": "spend", "tenant": "northwind", "threshold": 0.8, "spent_usd": 30.0, "daily_limit_usd": 20.0},
        {"kind": "spend", "tenant": "northwind", "threshold": 1.0, "spent_usd": 30.0, "daily_limit_usd": 20.0},
    ]
    value = registry.get_sample_value
    assert value("deskhand_spend_alerts_total", {"tenant": "acme", "threshold": "0.8"}) == 1
    assert value("deskhand_spend_alerts_total", {"tenant": "acme", "threshold": "1"}) == 1


def test_a_breaker_opening_alerts_once_per_opening(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    watch = BreakerWatch(Counter("deskhand_breaker_opens", "test", ["server"], registry=registry))
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=2, reset_after=1.0, clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="deskhand.alerts")

    def fail() -> None:
        with pytest.raises(Unavailable), breaker.guard("crm"):
            raise Unavailable("down")

    fail()
    watch.check({"crm": breaker})
    assert alerts(caplog) == []
    fail()  # the second failure in a row opens it
    for _ in range(3):
        watch.check({"crm": breaker})
    now[0] = 2.0
    fail()  # the half-open trial fails: it opens again
    watch.check({"crm": breaker})
    assert alerts(caplog) == [
        {"kind": "breaker_open", "server": "crm", "opened": 1},
        {"kind": "breaker_open", "server": "crm", "opened": 2},
    ]
    assert registry.get_sample_value("deskhand_breaker_opens_total", {"server": "crm"}) == 2
