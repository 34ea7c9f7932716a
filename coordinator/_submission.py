"""Submitting an event for a tenant of the home, as `deskhand submit` and the HTTP API both do: the workflow it
goes through (the tenant's own for an email, else the one loaded that starts from the event), the event checked
against that workflow's, and its run started in the store within the tenant's limits. No server is asked: the
tenants, their limits and workflows are what `deskhand init` recorded in the home."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from coordinator._home import Home
from schemas import InvalidArgument, NotFound, TenantLimits

if TYPE_CHECKING:
    from coordinator.store import Store
    from coordinator.workflow import EventName, Workflow

LOADED_FILE = "tenants-loaded.json"
"""In the home's data folder: each loaded tenant's digest (so that `init` can say what it changed), limits and
workflow (so that a submission, which asks no server, starts runs within them)."""


def loaded(home: Home) -> dict[str, dict[str, Any]]:
    """What `deskhand init` recorded of each tenant it loaded."""
    record = home.path / "data" / LOADED_FILE
    data: dict[str, Any] = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    return {t: v if isinstance(v, dict) else {"digest": v} for t, v in data.items()}  # a digest alone: before limits


def loaded_workflow(home: Home, tenant: str) -> str:
    """The workflow the tenant file `init` loaded last for `tenant` names (the built-in one when not recorded)."""
    return str(loaded(home).get(tenant, {}).get("workflow", "support-inbox"))


def loaded_limits(home: Home, tenant: str) -> TenantLimits | None:
    """The limits of the tenant file `init` loaded last for `tenant` (None: not recorded)."""
    limits = loaded(home).get(tenant, {}).get("limits")
    return None if limits is None else TenantLimits.model_validate(limits)


def daily_limits(home: Home) -> dict[str, float]:
    """Each tenant's daily spend limit in USD, as `init` loaded its file (the runtime's default where it sets none)."""
    from coordinator.runtime import RuntimeSettings

    default = RuntimeSettings().tenant_daily_spend_usd
    limits = {tenant: loaded_limits(home, tenant) for tenant in home.tenants}
    return {
        t: default if lim is None or lim.daily_spend_usd is None else lim.daily_spend_usd for t, lim in limits.items()
    }


def home_workflows(home: Home) -> dict[str, Workflow]:
    """The workflows a submission may name: the built-in ones and the home's, checked against the installed
    specialists."""
    from coordinator._registry import load_manifests
    from coordinator.workflow import load_workflows

    return load_workflows(home.workflows_dir, load_manifests())


def workflow_for(
    home: Home, workflows: Mapping[str, Workflow], tenant: str, event: EventName, workflow: str | None
) -> Workflow:
    """The workflow of `workflows` a submission of `event` for `tenant` goes through: `workflow` if named, else
    the tenant's own for an email, else the one workflow that starts from `event`. `NotFound` for a workflow not
    loaded; `InvalidArgument` (field `workflow`) for one that starts from another event, or no single default."""
    name = workflow or _default_workflow(loaded_workflow(home, tenant), event, workflows)
    if name not in workflows:
        where = f"workflow {name!r}" if workflow else f"tenant {tenant!r} runs the workflow {name!r}, which"
        raise NotFound(f"{where} is not loaded (loaded: {', '.join(sorted(workflows))})", field="workflow")
    starts_from = workflows[name].file.event
    if starts_from != event:
        raise InvalidArgument(
            f"workflow {name!r} starts from an {starts_from}, not an {event}: give the event {starts_from}, "
            "or another workflow",
            field="workflow",
        )
    return workflows[name]


def _default_workflow(own: str, event: str, workflows: Mapping[str, Workflow]) -> str:
    """The tenant's own workflow for an email; for another event, the one workflow loaded that starts from it."""
    if event == "email":
        return own
    starting = sorted(name for name, w in workflows.items() if w.file.event == event)
    if len(starting) != 1:
        raise InvalidArgument(
            f"{len(starting)} workflows start from an {event} ({', '.join(starting) or 'none'}): name one",
            field="workflow",
        )
    return starting[0]


def submit(
    home: Home, store: Store, tenant: str, event: BaseModel, workflow: Workflow, *, source: str | None = None
) -> tuple[str, bool]:
    """Start the run of `event` (of the kind `workflow` starts from: `workflow_for` chose it) for a tenant of the
    home, within its limits; returns (run id, whether new). `NotFound` for a tenant `init` did not load."""
    from coordinator.runtime import RuntimeSettings, intake

    if tenant not in home.tenants:
        raise NotFound(f"tenant {tenant!r} not found", field="tenant")
    return intake(
        store,
        tenant,
        event,
        RuntimeSettings(),
        limits=loaded_limits(home, tenant),
        source=source,
        workflow=workflow,
    )
