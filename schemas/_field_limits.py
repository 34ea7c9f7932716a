"""The limits a model puts on what people write (lengths, patterns, bounds), read from its pydantic fields.

`field_limits(TenantFile)` is the table docs/tenant-files.md shows (a test keeps the two equal), and
`form_of(pattern)` words a pattern the way an error message says what was expected.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from schemas._common import EMAIL_PATTERN, RECORD_ID_PATTERN, SLUG_PATTERN
from schemas._tenancy import TENANT_ID_PATTERN

FORMS: dict[str | None, str] = {
    SLUG_PATTERN: "name: a-z, 0-9, - and _",
    RECORD_ID_PATTERN: "id: letters, digits, _ . : -",
    EMAIL_PATTERN: "email address",
    TENANT_ID_PATTERN: "tenant id: a-z first, then a-z, 0-9 and -",
    None: "text",
}


def form_of(pattern: str | None) -> str:
    """What a string of this pattern looks like, in words."""
    return FORMS.get(pattern, f"text matching {pattern}")


@dataclass(frozen=True)
class FieldLimit:
    field: str
    """The field's path in the file: `policy.categories[].description`."""
    form: str
    limit: str


def field_limits(model: type[BaseModel]) -> list[FieldLimit]:
    """Every bounded field of `model` and the models it contains, in declaration order."""
    rows: list[FieldLimit] = []
    _walk_model(model, "", rows)
    return rows


def _walk_model(model: type[BaseModel], prefix: str, rows: list[FieldLimit]) -> None:
    for name, info in model.model_fields.items():
        key = info.alias or name
        _walk(info.annotation, list(info.metadata), f"{prefix}.{key}" if prefix else key, rows)


def _walk(tp: Any, metadata: list[Any], path: str, rows: list[FieldLimit]) -> None:
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *extra = get_args(tp)
        expanded = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        _walk(inner, [*metadata, *expanded], path, rows)
    elif origin is Union or origin is types.UnionType:
        for arg in get_args(tp):
            if arg is not type(None):
                _walk(arg, metadata, path, rows)
    elif origin is list:
        (item,) = get_args(tp)
        count = _bounds(metadata, "item")
        if count:
            rows.append(FieldLimit(path, "list", count))
        _walk(item, [], f"{path}[]", rows)
    elif origin is dict:
        key, value = get_args(tp)
        _walk(key, [], f"{path} (keys)", rows)
        _walk(value, [], f"{path} (values)", rows)
    elif origin is Literal:
        rows.append(FieldLimit(path, "one of " + ", ".join(str(v) for v in get_args(tp)), "—"))
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        _walk_model(tp, path, rows)
    elif tp is str:
        constraints = [m for m in metadata if isinstance(m, StringConstraints)]
        pattern = next((c.pattern for c in constraints if c.pattern), None)
        length = _string_length(constraints)
        if pattern is not None or length:
            rows.append(FieldLimit(path, form_of(pattern if isinstance(pattern, str) else None), length))
    elif tp in (int, float):
        bounds = _bounds(metadata, "")
        if bounds:
            rows.append(FieldLimit(path, "number" if tp is float else "whole number", bounds))


def _string_length(constraints: list[StringConstraints]) -> str:
    low = max((c.min_length or 0 for c in constraints), default=0)
    high = min((c.max_length for c in constraints if c.max_length is not None), default=None)
    if high is None:
        return f"at least {low:,} characters" if low > 1 else ""
    return f"{low:,}–{high:,} characters" if low > 1 else f"up to {high:,} characters"


def _bounds(metadata: list[Any], unit: str) -> str:
    """`at least 1 item`, `0 to 1`, `more than 0`: the bounds in `metadata`, in words."""
    words: list[str] = []

    def counted(n: int) -> str:
        return f"{n:,} {unit}{'' if n == 1 else 's'}" if unit else f"{n:,}"

    for m in metadata:
        if isinstance(m, annotated_types.MinLen) and m.min_length:
            words.append(f"at least {counted(m.min_length)}")
        elif isinstance(m, annotated_types.MaxLen):
            words.append(f"at most {counted(m.max_length)}")
        elif isinstance(m, annotated_types.Ge):
            words.append(f"at least {m.ge:,}")
        elif isinstance(m, annotated_types.Gt):
            words.append(f"more than {m.gt:,}")
        elif isinstance(m, annotated_types.Le):
            words.append(f"at most {m.le:,}")
        elif isinstance(m, annotated_types.Lt):
            words.append(f"less than {m.lt:,}")
    if len(words) == 2 and words[0].startswith("at least") and words[1].startswith("at most"):
        return f"{words[0].removeprefix('at least ')} to {words[1].removeprefix('at most ')}"
    return ", ".join(words)
