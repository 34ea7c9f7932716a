"""Workflows as data: which specialists a run goes through, on which conditions, with which input, and how it
ends. A tenant names the workflow it runs (`policy.workflow`, default `support-inbox`, built in); a home may
add its own in `workflows/*.yaml`. Each file is checked against the specialists' models when it loads.
The format: `coordinator/workflow/_format.py` and docs/workflows.md."""

from coordinator.workflow._format import EventName, WorkflowFile
from coordinator.workflow._load import (
    BUILT_IN,
    EVENTS,
    Workflow,
    builtin_workflows,
    load_workflow,
    load_workflows,
    parse_workflow,
)
from coordinator.workflow._paths import FUNCTIONS
from coordinator.workflow._run import route
from coordinator.workflow._show import workflow_mermaid, workflow_text

__all__ = [
    "BUILT_IN",
    "EVENTS",
    "EventName",
    "FUNCTIONS",
    "Workflow",
    "WorkflowFile",
    "builtin_workflows",
    "load_workflow",
    "load_workflows",
    "parse_workflow",
    "route",
    "workflow_mermaid",
    "workflow_text",
]
