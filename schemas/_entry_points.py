"""Loading what other packages declare in an entry-point group (specialists, servers), one way for every kind."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

from schemas._errors import ConfigError

T = TypeVar("T")


def load_entry_points(group: str, kind: str, check: Callable[[EntryPoint, object], T]) -> dict[str, T]:
    """Every object the group names, by entry-point name (sorted), each passed through `check` (which raises a
    `ConfigError` naming what is wrong with it). A name registered twice, or an entry point that fails to import, is
    a `ConfigError` naming it: never a silently missing `kind`."""
    found: dict[str, T] = {}
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        if entry.name in found:
            raise ConfigError(f"two packages register the {kind} {entry.name!r} in {group!r}")
        try:
            obj = entry.load()
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"{kind} entry point {entry.name!r} ({entry.value}) failed to load: {exc}") from exc
        found[entry.name] = check(entry, obj)
    return found
