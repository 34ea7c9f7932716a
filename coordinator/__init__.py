"""The coordinator: the runtime that routes handoffs to specialists and reaches servers over MCP.

What lives here: the runtime (`Runtime`: one handoff at a time, routed by `_router`), workers,
the store (`coordinator.store`), MCP sessions and the toolbox with its resilience wrappers, model
backends (`coordinator.models`), evaluation (`coordinator.eval`), replay, the token issuer, the home
and the CLI (`coordinator.cli`). It may import `schemas`, `specialists` and the boundary kit
(`mcp_servers.kit`); it reaches the MCP servers only over MCP, except in `coordinator.cli._serve`,
the composition root that runs them. A new face (HTTP API, console) goes in its own module beside
the CLI and drives the same `Runtime`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from coordinator._home import Home, ServerConfig, default_home

if TYPE_CHECKING:
    from coordinator._resilience import (
        BreakerState,
        BreakerStatistics,
        BreakerToolbox,
        CircuitBreaker,
        RetryingToolbox,
        TimeoutToolbox,
        UnreachableAs503,
    )
    from coordinator._service import open_runtime
    from coordinator._sessions import Connect, Route, Routes, SessionPool, Tier, http_connector
    from coordinator._tokens import APPROVALS_SUBJECT, Attribution, DevKeys, TokenIssuer, parse_ttl
    from coordinator._toolbox import McpToolbox
    from coordinator._worker import work
    from coordinator.runtime import Runtime, RuntimeSettings, RuntimeStats, check_approver
    from coordinator.workflow import Workflow, load_workflows, route, workflow_mermaid, workflow_text

# Imported when first used: `deskhand serve` imports `coordinator.cli`, hence this package, and needs none of them.
_LAZY = {
    "coordinator._resilience": (
        "BreakerState",
        "BreakerStatistics",
        "BreakerToolbox",
        "CircuitBreaker",
        "RetryingToolbox",
        "TimeoutToolbox",
        "UnreachableAs503",
    ),
    "coordinator.workflow": ("Workflow", "load_workflows", "route", "workflow_mermaid", "workflow_text"),
    "coordinator._service": ("open_runtime",),
    "coordinator.runtime": ("Runtime", "RuntimeSettings", "RuntimeStats", "check_approver"),
    "coordinator._sessions": ("Connect", "Route", "Routes", "SessionPool", "Tier", "http_connector"),
    "coordinator._tokens": ("APPROVALS_SUBJECT", "Attribution", "DevKeys", "TokenIssuer", "parse_ttl"),
    "coordinator._toolbox": ("McpToolbox",),
    "coordinator._worker": ("work",),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "APPROVALS_SUBJECT",
    "Attribution",
    "BreakerState",
    "BreakerStatistics",
    "BreakerToolbox",
    "CircuitBreaker",
    "Connect",
    "DevKeys",
    "Workflow",
    "Home",
    "McpToolbox",
    "RetryingToolbox",
    "Route",
    "Routes",
    "Runtime",
    "RuntimeSettings",
    "RuntimeStats",
    "ServerConfig",
    "SessionPool",
    "Tier",
    "TimeoutToolbox",
    "TokenIssuer",
    "UnreachableAs503",
    "check_approver",
    "default_home",
    "workflow_mermaid",
    "workflow_text",
    "http_connector",
    "open_runtime",
    "parse_ttl",
    "load_workflows",
    "route",
    "work",
]
