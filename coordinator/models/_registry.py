"""Model backends come from one place: the entry-point group `deskhand.models`.

Built-in and third-party backends are found the same way: a package declares

    [project.entry-points."deskhand.models"]
    mine = "my_backend:build"

where `build()` (any callable without arguments) returns a `specialists.kit.Model`, and `build_model("mine")`
makes one. Nothing is imported until a backend is built, so a heavy SDK costs only the commands that use it.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from schemas import ConfigError
from specialists.kit import Model

ENTRY_POINT_GROUP = "deskhand.models"
DEFAULT_MODEL = "offline"
"""The backend used when none is named: deterministic, no network."""


def backend_names() -> tuple[str, ...]:
    """The names of the installed model backends, sorted (reads the package metadata; imports none of them)."""
    return tuple(sorted({entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}))


def build_model(name: str) -> Model:
    """The model backend registered as `name`, built; `ConfigError` naming the known ones if there is none."""
    found: list[EntryPoint] = [entry for entry in entry_points(group=ENTRY_POINT_GROUP) if entry.name == name]
    if not found:
        raise ConfigError(f"no model backend {name!r}; known: {', '.join(backend_names()) or 'none'}", field="model")
    if len(found) > 1:
        raise ConfigError(f"two packages register the model backend {name!r} in {ENTRY_POINT_GROUP!r}", field="model")
    entry = found[0]
    try:
        build = entry.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"model backend {name!r} ({entry.value}) failed to load: {exc}", field="model") from exc
    model = build()
    if not isinstance(model, Model):
        raise ConfigError(
            f"model backend {name!r} ({entry.value}) built a {type(model).__name__}, not a model: "
            "expected an object with a `name` and an async `judge(...)` (specialists.kit.Model)",
            field="model",
        )
    return model
