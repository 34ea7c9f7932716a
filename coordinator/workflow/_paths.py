"""Paths into a run's results: parsed once when the workflow loads, typed against the specialists' models,
and read at each hop."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel

from coordinator._router import plan_actions
from schemas import ProposedAction, TriageResult

_CALL = re.compile(r"^([a-z_][a-z0-9_]*)\(([a-z][a-z0-9_]*)\)$")
_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(\[\])?$")


@dataclass(frozen=True)
class Function:
    takes: type[BaseModel]
    gives: Any
    apply: Callable[[Any], Any]
    doc: str


FUNCTIONS: dict[str, Function] = {
    "actions_asked_for": Function(
        TriageResult,
        list[ProposedAction],
        plan_actions,
        "the writes a triaged email asks for beyond the standard ones (a credit for a stated amount)",
    ),
}
"""The coordinator's own functions a workflow may apply to a step's output."""

RUN_FIELDS: dict[str, Any] = {"id": str, "revision": int}


@dataclass(frozen=True)
class Ref:
    """A parsed path: `step` (or `run`), then fields; `each` marks the fields read from every item of a list."""

    text: str
    head: str
    fields: tuple[tuple[str, bool], ...] = ()
    function: str | None = None
    literal: str | None = None

    def read(self, run_id: str, revision: int, results: dict[str, Any], models: Models) -> Any:
        """The value at this path: a whole step's output as its model (validated once per hop, in `models`),
        a field of it as JSON."""
        if self.literal is not None:
            return self.literal
        if self.head == "run":
            return run_id if self.fields[0][0] == "id" else revision
        if not self.fields:
            model = models.get(self.head)
            if self.function is not None:
                return None if model is None else FUNCTIONS[self.function].apply(model)
            return model
        return _walk(results.get(self.head), self.fields)


class Models:
    """The steps' outputs as their models, each validated from the run's results at most once per hop (the step
    that just ran is its model already)."""

    def __init__(self, kinds: Mapping[str, type[BaseModel]], results: dict[str, Any], step: str, output: BaseModel):
        self.kinds, self.results = kinds, results
        self.made: dict[str, BaseModel | None] = {step: output}

    def get(self, step: str) -> BaseModel | None:
        if step not in self.made:
            value = self.results.get(step)
            self.made[step] = None if value is None else self.kinds[step].model_validate(value)
        return self.made[step]


def _walk(value: Any, fields: tuple[tuple[str, bool], ...]) -> Any:
    for index, (name, each) in enumerate(fields):
        if value is None:
            return None
        value = value.get(name) if isinstance(value, dict) else None
        if each:  # the field of every item, empty ones left out
            items = (_walk(item, fields[index + 1 :]) for item in value or [])
            return [item for item in items if item not in (None, "", [], {})]
    return value


class PathError(ValueError):
    pass


def parse(text: str) -> Ref:
    if " " in text.strip():  # a sentence, not a path
        return Ref(text, head="", literal=text)
    call = _CALL.match(text)
    if call:
        if call.group(1) not in FUNCTIONS:
            raise PathError(f"unknown function {call.group(1)!r}; the coordinator has {sorted(FUNCTIONS)}")
        return Ref(text, head=call.group(2), function=call.group(1))
    head, *rest = text.split(".")
    parts = []
    for part in rest:
        match = _PART.match(part)
        if match is None:
            raise PathError(f"{text!r}: {part!r} is not a field name (letters, digits, _; `[]` after a list)")
        parts.append((match.group(1), bool(match.group(2))))
    if head == "run" and (len(parts) != 1 or parts[0][0] not in RUN_FIELDS or parts[0][1]):
        raise PathError(f"{text!r}: the run has {', '.join('run.' + f for f in RUN_FIELDS)}")
    return Ref(text, head=head, fields=tuple(parts))


def type_of(ref: Ref, outputs: dict[str, type[BaseModel]]) -> Any:
    """The type a path reads, from the output models of the steps (`outputs`); PathError when it reads nothing."""
    if ref.literal is not None:
        return str
    if ref.head == "run":
        return RUN_FIELDS[ref.fields[0][0]]
    if ref.head not in outputs:
        raise PathError(f"{ref.text!r}: no step named {ref.head!r} (steps: {sorted(outputs)})")
    if ref.function is not None:
        function = FUNCTIONS[ref.function]
        if not issubclass(outputs[ref.head], function.takes):
            raise PathError(
                f"{ref.text!r}: {ref.function} takes a {function.takes.__name__}; "
                f"step {ref.head!r} gives a {outputs[ref.head].__name__}"
            )
        return function.gives
    current: Any = outputs[ref.head]
    listed = False
    for name, each in ref.fields:
        model = _model(current)
        if model is None or name not in model.model_fields:
            have = sorted(model.model_fields) if model is not None else []
            raise PathError(f"{ref.text!r}: {_name(current)} has no field {name!r} (it has {have})")
        current = model.model_fields[name].annotation
        if each:
            item = _list_item(current)
            if item is None:
                raise PathError(f"{ref.text!r}: {name!r} is not a list, so it takes no `[]`")
            current, listed = item, True
    return list[current] if listed else current


def _model(annotation: Any) -> type[BaseModel] | None:
    options = [a for a in _options(annotation) if a is not type(None)]
    if len(options) == 1 and isinstance(options[0], type) and issubclass(options[0], BaseModel):
        return options[0]
    return None


def _options(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return typing.get_args(annotation)
    return (annotation,)


def _list_item(annotation: Any) -> Any:
    options = [a for a in _options(annotation) if a is not type(None)]
    if len(options) == 1 and typing.get_origin(options[0]) is list:
        return typing.get_args(options[0])[0]
    return None


def _name(annotation: Any) -> str:
    return getattr(annotation, "__name__", str(annotation))


def accepts(target: Any, source: Any) -> bool:
    """Whether a field annotated `target` takes every value a path of type `source` reads (None included when
    the step may not have run: a path into a step is None before it runs, which the check of `input` allows)."""
    if typing.get_origin(source) is typing.Literal:
        source = type(typing.get_args(source)[0])
    if source is int and float in _options(target):
        return True
    if source is type(None):
        return any(a is type(None) for a in _options(target)) or target is Any
    if target is Any or target == source:
        return True
    for option in _options(target):
        if option == source:
            return True
        if isinstance(option, type) and isinstance(source, type) and issubclass(source, option):
            return True
        target_item, source_item = _list_item(option), _list_item(source)
        if target_item is not None and source_item is not None and accepts(target_item, source_item):
            return True
    return False
