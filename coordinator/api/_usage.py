"""A tenant's usage: its runs by outcome and in flight, and its model calls' tokens and cost today against its
daily spend limit."""

from __future__ import annotations

import anyio

from coordinator._submission import loaded_limits
from coordinator.api._endpoints import Call
from coordinator.api._models import NoBody, NoQuery, Usage
from schemas import NotFound


async def usage(call: Call[NoQuery, NoBody]) -> Usage:
    from coordinator.runtime import RuntimeSettings

    tenant, api = call.path["tenant"], call.api
    if not call.caller.sees(tenant) or tenant not in api.home.tenants:
        raise NotFound(f"tenant {tenant!r} not found", field="tenant")

    def read() -> tuple[dict[str, int], tuple[int, float]]:
        return api.store.run_status_counts(tenant), api.store.usage_today(tenant)

    runs, (tokens, cost) = await anyio.to_thread.run_sync(read)
    limits = loaded_limits(api.home, tenant)
    daily = limits.daily_spend_usd if limits is not None else None
    daily = RuntimeSettings().tenant_daily_spend_usd if daily is None else daily
    return Usage(
        tenant=tenant,
        runs=runs,
        in_flight=runs.get("running", 0),
        tokens_today=tokens,
        cost_today_usd=round(cost, 6),
        daily_limit_usd=daily,
        remaining_today_usd=round(max(0.0, daily - cost), 6),
    )
