"""Per-tenant rate limits: a token bucket per tenant, kept in memory, bounded in size."""

from __future__ import annotations

import time
from collections import OrderedDict


class RateLimiter:
    """Allows `rate` calls a second per tenant, with bursts of up to `burst`.

    At most `max_tenants` buckets are kept; the least recently used is dropped first (it would
    be full again by then anyway), so memory stays flat however many tenants call.
    """

    def __init__(self, rate: float, burst: int, *, max_tenants: int = 10_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._max = max_tenants
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, tenant: str) -> float | None:
        """Take one call from the tenant's bucket: None if allowed, else seconds until one is."""
        now = time.monotonic()
        tokens, last = self._buckets.pop(tenant, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[tenant] = (tokens - 1.0, now)
            allowed = True
        else:
            self._buckets[tenant] = (tokens, now)
            allowed = False
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return None if allowed else (1.0 - tokens) / self.rate
