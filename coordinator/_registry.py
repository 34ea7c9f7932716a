"""Specialists come from one place: the entry-point group `deskhand.specialists`.

Built-in and third-party specialists are loaded the same way: `pip install` a package that declares

    [project.entry-points."deskhand.specialists"]
    refunds = "my_refunds:specialist"

and `load_specialists()` returns it next to the built-ins. A broken entry point is a clear error
naming it, never a silently missing specialist.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint
from typing import Any

from pydantic import BaseModel

from schemas import ConfigError, load_entry_points
from specialists.kit import ENTRY_POINT_GROUP, Manifest, Specialist

AnySpecialist = Specialist[Any, BaseModel]
"""A specialist of any task: the registry holds them all, and the runtime validates each task against its manifest."""


def _check(entry: EntryPoint, obj: object) -> AnySpecialist:
    manifest = getattr(obj, "manifest", None)
    if not isinstance(obj, Specialist) or not isinstance(manifest, Manifest) or not callable(getattr(obj, "run", None)):
        raise ConfigError(
            f"entry point {entry.name!r} ({entry.value}) in group {ENTRY_POINT_GROUP!r} is not a specialist: "
            "expected an object with a `manifest` (specialists.kit.Manifest) and an async `run(task, ctx)`"
        )
    if manifest.name != entry.name:
        raise ConfigError(
            f"entry point {entry.name!r} loads a specialist named {manifest.name!r}; the names must match"
        )
    return obj


def load_specialists() -> Mapping[str, AnySpecialist]:
    """Every installed specialist by name."""
    return load_entry_points(ENTRY_POINT_GROUP, "specialist", _check)


def load_manifests() -> dict[str, Manifest]:
    """Every installed specialist's manifest by name (what workflows are checked against)."""
    return {name: specialist.manifest for name, specialist in load_specialists().items()}
