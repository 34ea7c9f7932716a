"""Intake: a run started for an event, in the store alone (no server is asked)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import BaseModel

from coordinator.runtime._context import tenant_budget
from coordinator.store import Store
from coordinator.telemetry import current_traceparent, mark_run, run_span
from coordinator.workflow import EVENTS, Workflow
from schemas import BudgetExhausted, InboundEmail, InvalidArgument, NotFound, Policy, TenantLimits, args_hash

if TYPE_CHECKING:
    from coordinator.runtime._runtime import RuntimeSettings

WORKFLOW_KEY = "workflow"
"""The key of a run's results that names the workflow and version it goes through (`{name, version}`)."""


def _content_key(email: InboundEmail) -> str:
    """The run key of an email without a message id: its content's digest (ASCII-escaped, as the keys of
    runs already stored were made, so a resubmitted email still finds its run)."""
    return f"email:{args_hash(email.model_dump(mode='json'), ascii_only=True)[:32]}"


def _event_key(event: BaseModel, kind: str) -> str:
    """The run key of an event given no source: the message id or content of an email, else `kind:` and the
    event's digest (the same request made twice is one run; give a source to ask again)."""
    if isinstance(event, InboundEmail):
        return event.message_id or _content_key(event)
    return f"{kind}:{args_hash(event.model_dump(mode='json'), ascii_only=True)[:32]}"


def intake(
    store: Store,
    tenant: str,
    event: BaseModel,
    settings: RuntimeSettings,
    *,
    limits: TenantLimits | None = None,
    source: str | None = None,
    workflow: Workflow | None = None,
) -> tuple[str, bool]:
    """Start a run for an event (an email, or another of `coordinator.workflow.EVENTS`: the one `workflow`
    starts from) of a tenant known to the caller, in the store alone (no server is asked), within the tenant's
    `limits` when the caller has its file: `deskhand submit` uses it; returns (run id, whether new). (A run
    started without them still gets its tenant's per-run limits: the runtime applies them at each hop.)
    The run starts at the first step of `workflow` and records its version, which it finishes on (kept in the
    store); without one, an email's run starts at triage, on whatever workflow its tenant runs at each hop."""
    limits = limits or TenantLimits()
    in_flight = settings.tenant_max_running if limits.runs_in_flight is None else limits.runs_in_flight
    if store.running_runs(tenant) >= in_flight:
        raise BudgetExhausted(f"tenant {tenant!r} already has {in_flight} runs in flight", field="runs_in_flight")
    key = source or _event_key(event, workflow.file.event if workflow is not None else "email")
    budget = tenant_budget(settings.run_budget, limits.per_run)
    with run_span(tenant, workflow.name if workflow is not None else "") as span:
        trace = current_traceparent()  # the run's root span: its handoffs, in any worker, are its children
        data = event.model_dump(mode="json")
        if workflow is None:
            started = store.start_run(tenant, key, data, "triage", budget, trace=trace)
        else:
            store.save_workflow(workflow.version, workflow.name, workflow.definition)
            pinned = {WORKFLOW_KEY: {"name": workflow.name, "version": workflow.version}}
            started = store.start_run(tenant, key, data, workflow.file.start, budget, pinned, trace=trace)
        mark_run(span, *started)
    return started


# -- a run of a named workflow, for the event it starts from (`Runtime.submit_event`) -------------------------


def intake_event(
    store: Store,
    policies: Mapping[str, Policy],
    workflows: Mapping[str, Workflow],
    settings: RuntimeSettings,
    tenant: str,
    workflow: str,
    event: BaseModel,
    source: str | None = None,
) -> tuple[str, bool]:
    """Start a run of `workflow` for `event`, which must be of the kind the workflow starts from."""
    if tenant not in policies:
        raise NotFound(f"tenant {tenant!r} is not configured here; known: {sorted(policies)}")
    flow = workflows.get(workflow)
    if flow is None:
        raise NotFound(f"no workflow {workflow!r} is loaded (loaded: {', '.join(sorted(workflows))})", field="workflow")
    kind = flow.file.event
    if not isinstance(event, EVENTS[kind]):
        raise InvalidArgument(
            f"workflow {workflow!r} starts from an {kind} ({EVENTS[kind].__name__}), not {type(event).__name__}",
            field="workflow",
        )
    return intake(store, tenant, event, settings, limits=policies[tenant].limits, source=source, workflow=flow)
