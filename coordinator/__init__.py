"""The coordinator: the runtime that routes handoffs to specialists and reaches servers over MCP.

What lives here: the runtime (`Runtime`: one handoff at a time, routed by `_router`), workers,
the store (`coordinator.store`), MCP sessions and the toolbox with its resilience wrappers, model
backends (`coordinator.models`), evaluation (`coordinator.eval`), replay, the token issuer, the home
and the CLI (`coordinator.cli`). It may import `schemas`, `specialists` and the boundary kit
(`mcp_servers.kit`); it reaches the MCP servers only over MCP, except in `coordinator.cli._serve`,
the composition root that runs them. A new face (HTTP API, console) goes in its own module beside
the CLI and drives the same `Runtime`.
"""

from coordinator._home import Home, ServerConfig, default_home
from coordinator._resilience import (
    BreakerState,
    BreakerStatistics,
    BreakerToolbox,
    CircuitBreaker,
    RetryingToolbox,
    TimeoutToolbox,
    UnreachableAs503,
)
from coordinator._router import GRAPH, Edge, graph_mermaid, graph_text, route
from coordinator._runtime import Runtime, RuntimeSettings, RuntimeStats, check_approver
from coordinator._sessions import Connect, SessionPool, http_connector
from coordinator._tokens import APPROVALS_SUBJECT, Attribution, DevKeys, TokenIssuer, parse_ttl
from coordinator._toolbox import McpToolbox
from coordinator._worker import work

__all__ = [
    "APPROVALS_SUBJECT",
    "GRAPH",
    "Attribution",
    "BreakerState",
    "BreakerStatistics",
    "BreakerToolbox",
    "CircuitBreaker",
    "Connect",
    "DevKeys",
    "Edge",
    "Home",
    "McpToolbox",
    "RetryingToolbox",
    "Runtime",
    "RuntimeSettings",
    "RuntimeStats",
    "ServerConfig",
    "SessionPool",
    "TimeoutToolbox",
    "TokenIssuer",
    "UnreachableAs503",
    "check_approver",
    "default_home",
    "graph_mermaid",
    "graph_text",
    "http_connector",
    "parse_ttl",
    "route",
    "work",
]
