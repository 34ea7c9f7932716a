"""The store's reports for the console, over runs the real runtime made (SQLite and PostgreSQL): runs, tokens
and cost per tenant per UTC day, and the tool calls that came back with an error."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest
from mcp import Client

from coordinator._tokens import Attribution
from coordinator._worker import work
from coordinator.console._draw import cost_charts
from coordinator.eval import Fault, FaultInjector, Probe
from coordinator.store import Store
from schemas import InboundEmail, ServerName
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio


async def test_daily_usage_counts_each_tenants_runs_by_outcome_and_cost(world: World, store_url: str) -> None:
    acme = world.tenants["acme"].customers[0].email
    northwind = world.tenants["northwind"].customers[0].email
    async with world.runtime(store_url) as runtime:
        runtime.submit("acme", InboundEmail(sender=acme, subject="Invoice copy", body="Where is my last invoice?"))
        runtime.submit("acme", InboundEmail(sender=acme, subject="Refund", body="Please refund the duplicate $120.00."))
        runtime.submit("northwind", InboundEmail(sender=northwind, subject="Invoice", body="Where is my invoice?"))
        await work(runtime, until_idle=True, poll_seconds=0.01)
    store = Store(store_url)
    try:
        runs = store.runs()
        usage = store.daily_usage(days=7)
        only = store.daily_usage(tenant="northwind", days=7)
    finally:
        store.dispose()
    today = datetime.now(UTC).date()
    by_tenant = {u.tenant: u for u in usage}
    assert [u.day for u in usage] == [today, today]
    for tenant in ("acme", "northwind"):
        mine = [r for r in runs if r.tenant == tenant]
        counted: dict[str, int] = {}
        for run in mine:
            counted[run.status] = counted.get(run.status, 0) + 1
        assert by_tenant[tenant].runs == counted
        assert by_tenant[tenant].tokens == sum(r.tokens for r in mine)
        assert by_tenant[tenant].cost_usd == pytest.approx(sum(r.cost_usd for r in mine))
    assert [u.tenant for u in only] == ["northwind"]

    charts = cost_charts(usage, today=today, days=7)
    assert [c.tenant for c in charts] == ["acme", "northwind"]
    acme_chart = charts[0]
    assert [c.day for c in acme_chart.columns] == [today - timedelta(days=6 - i) for i in range(7)]
    assert acme_chart.columns[-1].runs == 2 and all(c.runs == 0 and c.height == 0 for c in acme_chart.columns[:-1])


async def test_failed_calls_are_a_tenants_own(world: World, store_url: str) -> None:
    """The helpdesk answers a malformed result to every ticket it is asked to open (the eval's fault injection, at
    the server): the report shows those calls, for that tenant only."""
    probe = Probe()
    probe.start([Fault(server="helpdesk", tool="create_ticket", error="malformed", times=100)])

    def failing_helpdesk(
        tenant: str, server: ServerName, scopes: list[str], caller: Attribution | None = None
    ) -> AbstractAsyncContextManager[Client]:
        return world.connect(tenant, server, scopes, caller, middleware=[FaultInjector(probe, server)])

    acme = world.tenants["acme"].customers[0].email
    async with world.runtime(store_url, failing_helpdesk) as runtime:
        runtime.submit("acme", InboundEmail(sender=acme, subject="Invoice copy", body="Where is my last invoice?"))
        await work(runtime, until_idle=True, poll_seconds=0.01)
    store = Store(store_url)
    try:
        since = datetime.now(UTC) - timedelta(hours=1)
        failed = store.failed_calls(since=since)
        theirs = store.failed_calls(tenant="northwind", since=since)
    finally:
        store.dispose()
    assert failed and {f.tenant for f in failed} == {"acme"}
    assert probe.injected >= 1
    assert {(f.tool, f.code) for f in failed} == {("helpdesk.create_ticket", "tool_output_invalid")}
    assert theirs == []
