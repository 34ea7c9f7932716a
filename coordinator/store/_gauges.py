"""What the store holds right now, for gauges read at scrape time (`coordinator.telemetry`): the queue's depth,
the leases held, the approvals waiting, and each tenant's spend today. A few aggregate queries over indexed
columns, made once per scrape, never on the per-handoff path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import select

from coordinator.store._sql import APPROVAL, HANDOFF, USAGE, now


@dataclass(frozen=True)
class Snapshot:
    pending: int
    """Handoffs waiting to be claimed (due or not)."""
    leased: int
    """Handoffs claimed under a lease that has not expired."""
    approvals: dict[str, int]
    """Pending approvals, by tenant (tenants with none are absent)."""
    spend_today: dict[str, float]
    """USD the tenant's model calls cost today (UTC), by tenant (tenants with none are absent)."""


def snapshot(engine: Engine) -> Snapshot:
    at = now()
    midnight = datetime(at.year, at.month, at.day, tzinfo=UTC)
    with engine.connect() as connection:
        pending = connection.execute(
            select(func.count()).select_from(HANDOFF).where(HANDOFF.c.state == "pending")
        ).scalar_one()
        leased = connection.execute(
            select(func.count()).select_from(HANDOFF).where(HANDOFF.c.state == "claimed", HANDOFF.c.lease_expires >= at)
        ).scalar_one()
        approvals = connection.execute(
            select(APPROVAL.c.tenant, func.count()).where(APPROVAL.c.status == "pending").group_by(APPROVAL.c.tenant)
        ).all()
        spend = connection.execute(
            select(USAGE.c.tenant, func.sum(USAGE.c.cost_usd)).where(USAGE.c.at >= midnight).group_by(USAGE.c.tenant)
        ).all()
    return Snapshot(
        pending=int(pending),
        leased=int(leased),
        approvals={tenant: int(count) for tenant, count in approvals},
        spend_today={tenant: float(usd or 0.0) for tenant, usd in spend},
    )
