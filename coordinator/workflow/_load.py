"""Loading a workflow: the file's format, then every step, condition and input checked against the specialists'
pydantic models, before any run starts. Each error names the file, the step and the field."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from coordinator.workflow._format import Edge, EventName, Test, WorkflowFile
from coordinator.workflow._paths import PathError, Ref, accepts, parse, type_of
from schemas import AccountReviewRequest, ConfigError, InboundEmail, read_text_file
from specialists.kit import Manifest

EVENTS: dict[EventName, type[BaseModel]] = {"email": InboundEmail, "account_review": AccountReviewRequest}
"""What a run may start from, by the name a workflow's `event` gives."""

BUILT_IN = Path(__file__).resolve().parent / "builtin"
RESERVED = frozenset({"run", "workflow", "loops", "revision"})
"""Keys of a run's results that are not steps (and `run`, the paths' own head)."""


@dataclass(frozen=True)
class Workflow:
    """A checked workflow: its file's content, the paths parsed, and its version (a hash of the content)."""

    file: WorkflowFile
    source: str
    version: str
    refs: Mapping[str, Ref]
    """Every path of the file, parsed."""
    inputs: Mapping[str, type[BaseModel]]
    """The input model of each step's specialist."""
    outputs: Mapping[str, type[BaseModel]]
    """The output model of each step's specialist."""
    definition: dict[str, Any]
    """The file's content as data: what the version hashes, and what a run's stored version is parsed from."""

    @property
    def name(self) -> str:
        return self.file.workflow


def load_workflow(path: Path, manifests: Mapping[str, Manifest]) -> Workflow:
    """The workflow in `path`, checked against the installed specialists' manifests."""
    try:
        data = yaml.safe_load(read_text_file(path, "the workflow"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not a readable YAML file: {exc}") from exc
    return parse_workflow(data, manifests, where=str(path))


def parse_workflow(data: Any, manifests: Mapping[str, Manifest], *, where: str) -> Workflow:
    try:
        file = WorkflowFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {field}: {first['msg']}", field=field) from exc
    refs = _check(file, manifests, where)
    definition = file.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    version = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]
    inputs = {name: manifests[step.specialist].input for name, step in file.steps.items()}
    outputs = {name: manifests[step.specialist].output for name, step in file.steps.items()}
    return Workflow(file, where, version, refs, inputs, outputs, definition)


def _fail(where: str, field: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {field}: {message}", field=field)


def _check(file: WorkflowFile, manifests: Mapping[str, Manifest], where: str) -> dict[str, Ref]:
    outputs: dict[str, type[BaseModel]] = {}
    for name, step in file.steps.items():
        if name in RESERVED:
            raise _fail(where, f"steps.{name}", f"{name!r} is a name the run's results keep for themselves")
        if step.specialist not in manifests:
            raise _fail(
                where,
                f"steps.{name}.specialist",
                f"no specialist {step.specialist!r} is installed (installed: {', '.join(sorted(manifests))})",
            )
        if step.specialist != name:
            raise _fail(where, f"steps.{name}", f"a step is named after the specialist it runs ({step.specialist!r})")
        outputs[name] = manifests[name].output
    if file.start not in file.steps:
        raise _fail(where, "start", f"no step named {file.start!r}")
    event = EVENTS[file.event]
    if not accepts(manifests[file.start].input, event):
        raise _fail(
            where,
            "start",
            f"step {file.start!r} takes a {manifests[file.start].input.__name__}, "
            f"not the {file.event} event ({event.__name__})",
        )
    refs: dict[str, Ref] = {}
    for name, step in file.steps.items():
        for index, edge in enumerate(step.next):
            at = f"steps.{name}.next[{index}]"
            refs.update(_check_edge(edge, at, file, manifests, outputs, where))
    _check_reachable(file, where)
    _check_loops(file, where)
    return refs


def _typed(text: str, at: str, outputs: dict[str, type[BaseModel]], where: str) -> tuple[Ref, Any]:
    try:
        ref = parse(text)
        return ref, type_of(ref, outputs)
    except PathError as exc:
        raise _fail(where, at, str(exc)) from exc


def _check_edge(
    edge: Edge,
    at: str,
    file: WorkflowFile,
    manifests: Mapping[str, Manifest],
    outputs: dict[str, type[BaseModel]],
    where: str,
) -> dict[str, Ref]:
    refs: dict[str, Ref] = {}
    for path, test in edge.when.items():
        ref, read = _typed(path, f"{at}.when.{path}", outputs, where)
        if isinstance(test, Test) and test.in_ is None and not accepts(float, read):
            raise _fail(where, f"{at}.when.{path}", f"a bound (gt, ge, lt, le) needs a number; {path!r} is {read}")
        refs[path] = ref
    if edge.to is not None:
        if edge.to not in file.steps:
            raise _fail(where, f"{at}.to", f"no step named {edge.to!r}")
        model = manifests[edge.to].input
        if isinstance(edge.input, str):
            ref, whole = _typed(edge.input, f"{at}.input", outputs, where)
            if not accepts(model, whole):
                raise _fail(where, f"{at}.input", f"step {edge.to!r} takes a {model.__name__}, not {_show(whole)}")
            refs[edge.input] = ref
            return {**refs, **_end_refs(edge, at, outputs, where)}
        for field, source in edge.input.items():
            if field not in model.model_fields:
                raise _fail(
                    where,
                    f"{at}.input.{field}",
                    f"{model.__name__} has no field {field!r} (it has {sorted(model.model_fields)})",
                )
            kind: Any = type(None)
            if source is not None:
                ref, kind = _typed(source, f"{at}.input.{field}", outputs, where)
                refs[source] = ref
            target = model.model_fields[field].annotation
            if not accepts(target, kind):
                raise _fail(
                    where,
                    f"{at}.input.{field}",
                    f"{model.__name__}.{field} takes {_show(target)}, not {_show(kind)} ({source!r})",
                )
        missing = [f for f, info in model.model_fields.items() if info.is_required() and f not in edge.input]
        if missing:
            raise _fail(
                where, f"{at}.input", f"{model.__name__} needs {', '.join(missing)}, which the edge does not give"
            )
    return {**refs, **_end_refs(edge, at, outputs, where)}


def _end_refs(edge: Edge, at: str, outputs: dict[str, type[BaseModel]], where: str) -> dict[str, Ref]:
    refs = {}
    for part, value in (("reason", edge.reason), ("approvals", edge.approvals)):
        if value is not None:
            refs[value] = _typed(value, f"{at}.{part}", outputs, where)[0]
    return refs


def _show(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _check_reachable(file: WorkflowFile, where: str) -> None:
    seen, todo = {file.start}, [file.start]
    while todo:
        for edge in file.steps[todo.pop()].next:
            if edge.to is not None and edge.to not in seen:
                seen.add(edge.to)
                todo.append(edge.to)
    for name in file.steps:
        if name not in seen:
            raise _fail(where, f"steps.{name}", f"no edge from {file.start!r} reaches this step")


def _check_loops(file: WorkflowFile, where: str) -> None:
    """Every cycle takes at least one edge with a `limit`: without those edges the graph has no cycle."""
    unlimited = {n: [e.to for e in s.next if e.to is not None and e.limit is None] for n, s in file.steps.items()}
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = 1
        for nxt in unlimited[name]:
            if state.get(nxt) == 1:
                cycle = [*trail[trail.index(nxt) :], nxt] if nxt in trail else [name, nxt]
                raise _fail(where, f"steps.{name}.next", f"the loop {' -> '.join(cycle)} has no edge with a `limit`")
            if nxt not in state:
                visit(nxt, [*trail, nxt])
        state[name] = 2

    for name in file.steps:
        if name not in state:
            visit(name, [name])


def builtin_workflows(manifests: Mapping[str, Manifest]) -> dict[str, Workflow]:
    """The workflows deskhand ships (`support-inbox`, `account-review`), by name."""
    found = [load_workflow(p, manifests) for p in sorted(BUILT_IN.glob("*.yaml"))]
    return {w.name: w for w in found}


def load_workflows(folder: Path | None, manifests: Mapping[str, Manifest]) -> dict[str, Workflow]:
    """The built-in workflows and those in `folder` (`*.yaml`); a file may not reuse a built-in's name."""
    found = builtin_workflows(manifests)
    for path in sorted(folder.glob("*.y*ml")) if folder is not None and folder.is_dir() else []:
        workflow = load_workflow(path, manifests)
        if workflow.name in found:
            raise ConfigError(
                f"{path}: workflow: {workflow.name!r} is already defined ({found[workflow.name].source})",
                field="workflow",
            )
        found[workflow.name] = workflow
    return found
