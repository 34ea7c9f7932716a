"""Alerts: a tenant's spend today crossing 80% and 100% of its daily limit, and a server's circuit breaker
opening. Each crossing is one log record (logger `deskhand.alerts`, warning, its fields in `extra` under
`alert`) and one count, however many handoffs come after it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Final

from prometheus_client import Counter

from coordinator._resilience import CircuitBreaker

logger = logging.getLogger("deskhand.alerts")

SPEND_THRESHOLDS: Final = (0.8, 1.0)
"""Shares of a tenant's daily spend limit that raise an alert when crossed."""


class SpendAlerts:
    """Alerts once per tenant, threshold and day (UTC) in this process: a fleet of N workers alerts at most N
    times per crossing (each worker sees the shared total)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._raised: dict[str, tuple[date, float]] = {}
        """The highest threshold alerted for each tenant, and on which day."""

    def check(self, tenant: str, spent: float, daily: float) -> None:
        if daily <= 0 or spent < SPEND_THRESHOLDS[0] * daily:
            return
        today = datetime.now(UTC).date()
        day, highest = self._raised.get(tenant, (today, 0.0))
        if day != today:
            highest = 0.0
        crossed = [t for t in SPEND_THRESHOLDS if t > highest and spent >= t * daily]
        if not crossed:
            return
        self._raised[tenant] = (today, crossed[-1])
        for threshold in crossed:
            self._counter.labels(tenant, f"{threshold:g}").inc()
            logger.warning(
                "tenant %s crossed %d%% of its daily spend limit: $%.4f of $%.2f",
                tenant,
                round(threshold * 100),
                spent,
                daily,
                extra={
                    "alert": {
                        "kind": "spend",
                        "tenant": tenant,
                        "threshold": threshold,
                        "spent_usd": round(spent, 6),
                        "daily_limit_usd": daily,
                    }
                },
            )


class BreakerWatch:
    """Counts and logs each opening of a circuit breaker, read from the breakers' own count after each handoff
    (nothing is added to a breaker's path)."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._seen: dict[int, int] = {}
        """Openings already reported, by breaker (its id: a server's breaker lives as long as the runtime)."""

    def check(self, breakers: Mapping[str, CircuitBreaker]) -> None:
        for server, breaker in breakers.items():
            opened = breaker.opened
            seen = self._seen.get(id(breaker), 0)
            if opened <= seen:
                continue
            self._seen[id(breaker)] = opened
            self._counter.labels(server).inc(opened - seen)
            logger.warning(
                "the circuit breaker of the %s server opened",
                server,
                extra={"alert": {"kind": "breaker_open", "server": server, "opened": opened}},
            )
