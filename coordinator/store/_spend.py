"""What each tenant's model calls cost today, read from the usage ledger and kept per process, so that the
per-handoff budget check costs no query while the total is fresh."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func
from sqlmodel import select

from coordinator.store._sql import USAGE, now


@dataclass
class _Spend:
    day: date
    usd: float
    read_at: float


class Spend:
    """Today's spend (UTC) of each tenant, as last read plus what this process recorded since."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._spend: dict[str, _Spend] = {}
        self._lock = threading.Lock()

    def today(self, tenant: str, *, fresh_within: float = 0.0) -> float:
        """What the tenant's model calls cost today (UTC), in USD. With `fresh_within`, a total read
        from the database at most that many seconds ago serves (plus what this process recorded since):
        the per-handoff budget check then costs no query."""
        cached = self.cached(tenant, fresh_within)
        if cached is not None:
            return cached
        today = now().date()
        start = datetime(today.year, today.month, today.day, tzinfo=UTC)
        with self._engine.connect() as connection:
            total = float(
                connection.execute(
                    select(func.coalesce(func.sum(USAGE.c.cost_usd), 0.0)).where(
                        USAGE.c.tenant == tenant, USAGE.c.at >= start
                    )
                ).scalar_one()
            )
        with self._lock:
            self._spend[tenant] = _Spend(today, total, time.monotonic())
        return total

    def usage_today(self, tenant: str) -> tuple[int, float]:
        """The tokens and USD the tenant's model calls used today (UTC), read now (for reports, not budgets)."""
        today = now().date()
        start = datetime(today.year, today.month, today.day, tzinfo=UTC)
        tokens = USAGE.c.input_tokens + USAGE.c.output_tokens + USAGE.c.cache_tokens
        with self._engine.connect() as connection:
            row = connection.execute(
                select(func.coalesce(func.sum(tokens), 0), func.coalesce(func.sum(USAGE.c.cost_usd), 0.0)).where(
                    USAGE.c.tenant == tenant, USAGE.c.at >= start
                )
            ).one()
        return int(row[0]), float(row[1])

    def cached(self, tenant: str, fresh_within: float) -> float | None:
        """Today's spend of `tenant` if this process read it within `fresh_within` seconds, else None."""
        entry = self._spend.get(tenant)
        if entry is None or entry.day != now().date() or time.monotonic() - entry.read_at > fresh_within:
            return None
        return entry.usd

    def spent(self, tenant: str, usd: float) -> None:
        """Add what this process just recorded to the tenant's total, if it has one."""
        if usd:
            with self._lock:
                entry = self._spend.get(tenant)
                if entry is not None:
                    entry.usd += usd
