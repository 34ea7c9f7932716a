"""Intake: a run started for an event, in the store alone (no server is asked)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coordinator.runtime._context import tenant_budget
from coordinator.store import Store
from coordinator.workflow import Workflow
from schemas import BudgetExhausted, InboundEmail, TenantLimits, args_hash

if TYPE_CHECKING:
    from coordinator.runtime._runtime import RuntimeSettings


def _content_key(email: InboundEmail) -> str:
    """The run key of an email without a message id: its content's digest (ASCII-escaped, as the keys of
    runs already stored were made, so a resubmitted email still finds its run)."""
    return f"email:{args_hash(email.model_dump(mode='json'), ascii_only=True)[:32]}"


def intake(
    store: Store,
    tenant: str,
    email: InboundEmail,
    settings: RuntimeSettings,
    *,
    limits: TenantLimits | None = None,
    source: str | None = None,
    workflow: Workflow | None = None,
) -> tuple[str, bool]:
    """Start a run for an email of a tenant known to the caller, in the store alone (no server is asked), within
    the tenant's `limits` when the caller has its file: `deskhand submit` uses it; returns (run id, whether new).
    (A run started without them still gets its tenant's per-run limits: the runtime applies them at each hop.)
    The run starts at the first step of the tenant's `workflow` and records its version, which it finishes on
    (kept in the store); without one, at triage, on whatever workflow the tenant runs at each hop."""
    limits = limits or TenantLimits()
    in_flight = settings.tenant_max_running if limits.runs_in_flight is None else limits.runs_in_flight
    if store.running_runs(tenant) >= in_flight:
        raise BudgetExhausted(f"tenant {tenant!r} already has {in_flight} runs in flight")
    key = source or email.message_id or _content_key(email)
    budget = tenant_budget(settings.run_budget, limits.per_run)
    if workflow is None:
        return store.start_run(tenant, key, email.model_dump(mode="json"), "triage", budget)
    store.save_workflow(workflow.version, workflow.name, workflow.definition)
    pinned = {"workflow": {"name": workflow.name, "version": workflow.version}}
    return store.start_run(tenant, key, email.model_dump(mode="json"), workflow.file.start, budget, pinned)
