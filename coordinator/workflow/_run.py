"""Executing a workflow: after a step, the first of its edges whose conditions hold decides what happens next."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from coordinator._router import Decision
from coordinator.workflow._format import Test
from coordinator.workflow._load import Workflow
from coordinator.workflow._paths import Models
from schemas import ProposedAction


def _holds(value: Any, test: Test | bool | int | float | str) -> bool:
    if not isinstance(test, Test):
        return bool(value == test and type(value) is type(test)) if isinstance(test, bool) else value == test
    if test.in_ is not None and value not in test.in_:
        return False
    if any(bound is not None for bound in (test.gt, test.ge, test.lt, test.le)):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return not (
            (test.gt is not None and not value > test.gt)
            or (test.ge is not None and not value >= test.ge)
            or (test.lt is not None and not value < test.lt)
            or (test.le is not None and not value <= test.le)
        )
    return True


def route(workflow: Workflow, run_id: str, sender: str, output: BaseModel, results: dict[str, Any]) -> Decision:
    """The next hop after step `sender` produced `output`; `results` holds every step's output so far (the
    sender's included, as JSON), `revision` and `loops` (how often each limited edge was taken)."""
    step = workflow.file.steps.get(sender)
    if step is None:
        return Decision(None, run_status="escalated", reason=f"workflow {workflow.name!r} has no step {sender!r}")
    revision = int(results.get("revision", 0))
    models = Models(workflow.outputs, results, sender, output)
    for edge in step.next:
        if not all(
            _holds(workflow.refs[text].read(run_id, revision, results, models), test)
            for text, test in edge.when.items()
        ):
            continue
        if edge.end is not None:
            reason = workflow.refs[edge.reason].read(run_id, revision, results, models) if edge.reason else ""
            actions = workflow.refs[edge.approvals].read(run_id, revision, results, models) if edge.approvals else []
            return Decision(
                None,
                run_status=edge.end,
                reason="; ".join(reason) if isinstance(reason, list) else str(reason or ""),
                approvals=[
                    a if isinstance(a, ProposedAction) else ProposedAction.model_validate(a) for a in actions or []
                ],
            )
        assert edge.to is not None  # an edge has `to` or `end` (checked when the file loaded)
        loops: dict[str, int] | None = None
        if edge.limit is not None:
            key = f"{sender}->{edge.to}"
            taken = dict(results.get("loops") or {})
            taken[key] = taken.get(key, 0) + 1
            if taken[key] > edge.limit:
                return Decision(
                    None,
                    run_status="escalated",
                    reason=f"workflow {workflow.name!r}: {key} was taken {edge.limit} times, its limit",
                )
            loops, revision = taken, revision + 1
        if isinstance(edge.input, str):
            values: Any = workflow.refs[edge.input].read(run_id, revision, results, models)
        else:
            values = {
                field: None if text is None else workflow.refs[text].read(run_id, revision, results, models)
                for field, text in edge.input.items()
            }
        model = workflow.inputs[edge.to]
        payload = values if isinstance(values, model) else model.model_validate(values)
        return Decision(edge.to, payload, loops=loops, revision=revision if loops is not None else None)
    return Decision(None, run_status="escalated", reason=f"workflow {workflow.name!r}: no edge from {sender!r} holds")
