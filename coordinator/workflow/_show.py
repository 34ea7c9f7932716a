"""A workflow as text or as a Mermaid flowchart (`deskhand graph`), from the same data the router runs."""

from __future__ import annotations

from coordinator.workflow._format import Edge, Test
from coordinator.workflow._load import Workflow


def _when(edge: Edge, only: bool) -> str:
    parts = []
    for path, test in edge.when.items():
        if isinstance(test, Test):
            bounds = [
                f"{op} {v:g}"
                for op, v in (("<", test.lt), ("<=", test.le), (">", test.gt), (">=", test.ge))
                if v is not None
            ]
            listed = ", ".join(str(v) for v in test.in_ or [])
            parts.append(f"{path} in [{listed}]" if test.in_ is not None else f"{path} {' and '.join(bounds)}")
        else:
            parts.append(f"{path} == {str(test).lower() if isinstance(test, bool) else test}")
    text = " and ".join(parts) or ("always" if only else "otherwise")
    return f"{text} (at most {edge.limit} times)" if edge.limit else text


def _edges(workflow: Workflow) -> list[tuple[str, str, str]]:
    rows = [(f"({workflow.file.event})", f"an {workflow.file.event}", workflow.file.start)]
    for name, step in workflow.file.steps.items():
        rows += [(name, _when(edge, len(step.next) == 1), edge.to or edge.end or "") for edge in step.next]
    return rows


def workflow_text(workflow: Workflow) -> str:
    rows = _edges(workflow)
    width = max(len(source) for source, _, _ in rows)
    head = f"workflow {workflow.name} (version {workflow.version}, from {workflow.source})"
    return "\n".join([head, *(f"{s:<{width}}  --[{w}]-->  {t}" for s, w, t in rows)])


def workflow_mermaid(workflow: Workflow) -> str:
    lines = ["flowchart TD"]
    for source, when, target in _edges(workflow):
        label = when.replace('"', "'")
        lines.append(f'    {source.strip("()")} -->|"{label}"| {target}')
    return "\n".join(lines)
