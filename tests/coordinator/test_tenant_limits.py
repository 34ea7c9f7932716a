"""Each tenant runs within the limits and model tiers of its own file: two tenants, two budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from coordinator._worker import work
from coordinator.runtime import Runtime
from coordinator.store import UsageRow
from schemas import BudgetExhausted, ConfigError, InboundEmail, TenantFile, load_tenant_file
from tests.conftest import EXAMPLE_TENANTS, Issuer
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio

INVOICE = ("Invoice copy please", "Hi, could you send me a copy of last month's invoice? I cannot find it in billing.")
ORDER = ("Where is my order?", "Where is my order? It was supposed to arrive on Friday and the tracking has not moved.")


def tenant_with(tmp_path: Path, name: str, policy: dict[str, Any]) -> TenantFile:
    """The example tenant `name` as its file with `policy` keys added, written and loaded like any other."""
    data = yaml.safe_load((EXAMPLE_TENANTS / f"{name}.yaml").read_text(encoding="utf-8"))
    data["policy"].update(policy)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_tenant_file(path)


@pytest.fixture
def acme_limits() -> dict[str, Any]:
    return {}


@pytest.fixture
def limited_world(tmp_path: Path, issuer: Issuer, world_template: Path, acme_limits: dict[str, Any]) -> Iterator[World]:
    tenants = [tenant_with(tmp_path, "acme", acme_limits), tenant_with(tmp_path, "northwind", {})]
    built = World.copied(world_template, tmp_path, tenants, issuer)
    yield built
    built.dispose()


@pytest.fixture
async def runtime(limited_world: World, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with limited_world.runtime(f"sqlite:///{tmp_path / 'coordinator.db'}") as built:
        yield built


def submit(world: World, runtime: Runtime, tenant: str, subject_body: tuple[str, str]) -> str:
    sender = world.tenants[tenant].customers[0].email
    run_id, _ = runtime.submit(tenant, InboundEmail(sender=sender, subject=subject_body[0], body=subject_body[1]))
    return run_id


@pytest.mark.parametrize("acme_limits", [{"limits": {"per_run": {"tool_calls": 6}}}])
async def test_a_tenants_run_stops_at_its_own_budget_while_the_other_tenants_completes(
    limited_world: World, runtime: Runtime
) -> None:
    small = submit(limited_world, runtime, "acme", INVOICE)
    other = submit(limited_world, runtime, "northwind", ORDER)
    assert runtime.store.handoffs(small)[0].budget["tool_calls"] == 6  # taken from the file at intake
    await work(runtime, until_idle=True, poll_seconds=0.01)
    stopped, completed = runtime.store.run(small), runtime.store.run(other)
    assert stopped.status == "escalated" and "tool call budget" in stopped.reason and stopped.tool_calls <= 6
    assert completed.status == "completed", completed.reason
    assert completed.tool_calls > 6


@pytest.mark.parametrize("acme_limits", [{"limits": {"per_run": {"tool_calls": 6}}}])
async def test_a_run_started_without_the_tenants_file_still_keeps_to_its_budget(
    limited_world: World, runtime: Runtime
) -> None:
    from coordinator.runtime import RuntimeSettings, intake

    sender = limited_world.tenants["acme"].customers[0].email
    run_id, _ = intake(
        runtime.store, "acme", InboundEmail(sender=sender, subject=INVOICE[0], body=INVOICE[1]), RuntimeSettings()
    )
    assert runtime.store.handoffs(run_id)[0].budget["tool_calls"] == RuntimeSettings().run_budget.tool_calls
    await work(runtime, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(run_id)
    assert run.status == "escalated" and "tool call budget" in run.reason and run.tool_calls <= 6


@pytest.mark.parametrize("acme_limits", [{"limits": {"daily_spend_usd": 0}}])
async def test_a_tenants_daily_spend_limit_refuses_only_that_tenant(limited_world: World, runtime: Runtime) -> None:
    refused = submit(limited_world, runtime, "acme", INVOICE)
    served = submit(limited_world, runtime, "northwind", ORDER)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    run = runtime.store.run(refused)
    assert run.status == "escalated" and "its daily limit is $0.00" in run.reason
    assert runtime.store.run(served).status == "completed"


@pytest.mark.parametrize("acme_limits", [{"limits": {"runs_in_flight": 1}}])
async def test_a_tenants_runs_in_flight_limit_refuses_only_that_tenant(limited_world: World, runtime: Runtime) -> None:
    submit(limited_world, runtime, "acme", INVOICE)
    with pytest.raises(BudgetExhausted) as info:
        submit(limited_world, runtime, "acme", ORDER)
    assert info.value.code == "budget_exhausted" and "1 runs in flight" in info.value.message
    submit(limited_world, runtime, "northwind", INVOICE)
    submit(limited_world, runtime, "northwind", ORDER)
    assert runtime.store.running_runs("northwind") == 2


@pytest.mark.parametrize("acme_limits", [{"models": {"triage": "large"}}])
async def test_a_tenant_chooses_the_model_tier_of_a_step(limited_world: World, runtime: Runtime) -> None:
    mine = submit(limited_world, runtime, "acme", INVOICE)
    theirs = submit(limited_world, runtime, "northwind", ORDER)
    await work(runtime, until_idle=True, poll_seconds=0.01)
    with Session(runtime.store.engine) as session:
        rows = session.exec(select(UsageRow).where(UsageRow.specialist == "triage")).all()
    assert {r.run_id: r.model for r in rows} == {mine: "offline/large", theirs: "offline/small"}


@pytest.mark.parametrize("acme_limits", [{"models": {"crm_writer": "large"}}])
async def test_a_model_tier_for_a_step_without_a_model_is_refused(limited_world: World, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        async with limited_world.runtime(f"sqlite:///{tmp_path / 'coordinator.db'}"):
            pass
    assert info.value.field == "policy.models.crm_writer" and "'triage'" in info.value.message
