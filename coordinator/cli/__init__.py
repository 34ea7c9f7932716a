"""The `deskhand` command line. `main` is the console script; `app` the Typer application.

`running_servers`, `free_port`, `ServerProcess` and `prepare` start the home's MCP servers as processes
(the bench drives them too); `prepare` is imported when first used (it imports the servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coordinator.cli._app import app, main
from coordinator.cli._processes import ServerProcess, free_port, pinned_key, running_servers

if TYPE_CHECKING:
    from coordinator.cli._serve import prepare


def __getattr__(name: str) -> Any:
    if name == "prepare":
        from coordinator.cli._serve import prepare

        return prepare
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ServerProcess", "app", "free_port", "main", "pinned_key", "prepare", "running_servers"]
