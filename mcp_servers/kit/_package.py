"""Server packages: how deskhand finds the MCP servers it can run, the built-in four and yours alike.

A package declares its server in the entry-point group `deskhand.servers`:

    [project.entry-points."deskhand.servers"]
    orders = "my_orders:package"

where `package` is a `ServerPackage`: the server's name (the entry point's), its tools (their `ToolSpec`s, whose
scopes start with that name: `orders:read`), how to build it over a database, and, optionally, how to load a tenant
file's data into it. `deskhand server serve orders` runs it, `deskhand init` creates its tables, and the coordinator
reaches it at the URL `deskhand.toml` gives it. A broken entry point is a clear error naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint

from mcp_servers.kit._server import BoundarySettings, GuardedServer
from mcp_servers.kit._storage import Database
from schemas import SERVER_NAME_PATTERN, ConfigError, TenantFile, ToolSpec, load_entry_points

SERVERS_ENTRY_POINT_GROUP = "deskhand.servers"
_NAME = re.compile(SERVER_NAME_PATTERN)


@dataclass(frozen=True)
class ServerPackage:
    """One MCP server as a package declares it."""

    name: str
    build: Callable[[Database, BoundarySettings | None], GuardedServer]
    """The guarded server over a database (its tools registered), with the boundary's settings or the defaults."""
    tools: tuple[ToolSpec, ...]
    """The tools it serves: what `deskhand server list` shows and whose scopes tokens may carry."""
    seed: Callable[[Database, TenantFile], None] | None = None
    """Loads a tenant file's data into its tables (idempotent); None when the server keeps no such data."""
    description: str = ""

    @property
    def scopes(self) -> tuple[str, ...]:
        return tuple(sorted({tool.scope for tool in self.tools}))


def _check(entry: EntryPoint, obj: object) -> ServerPackage:
    where = f"entry point {entry.name!r} ({entry.value}) in group {SERVERS_ENTRY_POINT_GROUP!r}"
    if not isinstance(obj, ServerPackage):
        raise ConfigError(f"{where} is not a server package: expected a mcp_servers.kit.ServerPackage")
    if obj.name != entry.name:
        raise ConfigError(f"{where} loads a server named {obj.name!r}; the names must match")
    if not _NAME.match(obj.name):
        raise ConfigError(f"{where}: the name {obj.name!r} must be lower-case letters, digits and underscores")
    for tool in obj.tools:
        if tool.server != obj.name:
            raise ConfigError(f"{where}: its tool {tool.name!r} names the server {tool.server!r}, not {obj.name!r}")
    return obj


def load_servers() -> Mapping[str, ServerPackage]:
    """Every installed server package by name, the built-in four included."""
    return load_entry_points(SERVERS_ENTRY_POINT_GROUP, "server", _check)
