"""What a specialist is given for one handoff besides its task: a toolbox over pooled sessions, with timeouts,
retries and circuit breakers, and the part of the run's budget that is left."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from coordinator._registry import AnySpecialist
from coordinator._resilience import BreakerToolbox, CircuitBreaker, RetryingToolbox, ServerUnavailable, TimeoutToolbox
from coordinator._sessions import SessionPool
from coordinator.workflow import Workflow
from schemas import ConfigError, Handoff, Policy, RunBudget, RunLimits, Unavailable, server_of_scope
from specialists.kit import Budget, Manifest


@contextlib.asynccontextmanager
async def open_toolbox(
    pool: SessionPool,
    breakers: dict[str, CircuitBreaker],
    handoff: Handoff,
    manifest: Any,
    tool_timeout_seconds: float,
) -> AsyncIterator[BreakerToolbox]:
    """The specialist's toolbox for this handoff: pooled sessions, with timeouts, retries and breakers."""
    servers = sorted({server_of_scope(scope) for scope in manifest.scopes})
    for server in servers:
        breaker = breakers.setdefault(server, CircuitBreaker())
        if breaker.state == "open":
            with breaker.guard(server):  # fails fast: an open circuit admits nothing
                pass
    async with contextlib.AsyncExitStack() as stack:
        try:
            pool_toolbox = await stack.enter_async_context(pool.session(handoff.tenant, manifest))
        except Unavailable as exc:
            if exc.field in breakers:  # could not even connect: that counts as a failed call
                with contextlib.suppress(Unavailable), breakers[exc.field].guard(exc.field):
                    raise
                raise ServerUnavailable(exc.message, server=exc.field, retry_after=exc.retry_after) from exc
            raise
        mcp = pool_toolbox.for_run(handoff.trace, handoff.run_id)
        yield BreakerToolbox(RetryingToolbox(TimeoutToolbox(mcp, tool_timeout_seconds)), breakers)


def budget_for(budget: RunBudget, run_created_at: datetime) -> Budget:
    """What is left of the run's budget for this handoff: all of it but the wall time already spent."""
    elapsed = (datetime.now(UTC) - run_created_at).total_seconds()
    return Budget(
        tokens=budget.tokens,
        cost_usd=budget.cost_usd,
        tool_calls=budget.tool_calls,
        iterations=budget.iterations,
        wall_seconds=max(0.0, budget.wall_seconds - elapsed),
    )


def budget_left(budget: RunBudget, used: Budget) -> RunBudget:
    """The run's budget for its next handoff: this one's, less what this one used."""
    return RunBudget(
        tokens=max(0, budget.tokens - used.used_tokens),
        cost_usd=max(0.0, budget.cost_usd - used.used_cost_usd),
        tool_calls=max(0, budget.tool_calls - used.used_tool_calls),
        iterations=max(0, budget.iterations - used.used_iterations),
        wall_seconds=budget.wall_seconds,
    )


def tenant_budget(budget: RunBudget, limits: RunLimits) -> RunBudget:
    """`budget` within the tenant's per-run limits: a run's whole budget at its start, what is left after."""
    capped = {
        name: min(getattr(budget, name), limit) for name, limit in limits.model_dump().items() if limit is not None
    }
    return budget.model_copy(update=capped)


def tenant_manifest(manifest: Manifest, policy: Policy) -> Manifest:
    """The specialist's manifest with the model tier its tenant's file gives the step (`policy.models`)."""
    tier = policy.models.get(manifest.name)
    if tier is None or manifest.model_tier == "none" or tier == manifest.model_tier:
        return manifest
    return manifest.model_copy(update={"model_tier": tier})


def check_model_tiers(specialists: Mapping[str, AnySpecialist], policies: Mapping[str, Policy]) -> None:
    """Refuse a tenant whose `policy.models` names a step that does not exist or uses no model."""
    steps = sorted(name for name, s in specialists.items() if s.manifest.model_tier != "none")
    for tenant, policy in policies.items():
        for step in policy.models:
            if step not in steps:
                raise ConfigError(
                    f"tenant {tenant!r}: policy.models.{step}: not a step that uses a model; expected one of {steps}",
                    field=f"policy.models.{step}",
                )


def check_workflows(policies: Mapping[str, Policy], workflows: Mapping[str, Workflow]) -> None:
    """Every tenant's workflow is loaded, or the runtime does not start."""
    for tenant, policy in policies.items():
        if policy.workflow not in workflows:
            raise ConfigError(
                f"tenant {tenant!r}: policy.workflow: no workflow {policy.workflow!r} is loaded "
                f"(loaded: {', '.join(sorted(workflows))})",
                field="policy.workflow",
            )
