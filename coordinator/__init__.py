"""The coordinator: the runtime that routes handoffs to specialists and reaches servers over MCP.

Today: the development token issuer (`_tokens`), the deskhand home (`_home`) and the CLI
(`coordinator.cli`). It may import `schemas` and `specialists`; it reaches MCP servers only
over MCP, except in `coordinator.cli._serve`, the composition root that runs them.
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
from coordinator._tokens import DevKeys, TokenIssuer, parse_ttl

__all__ = [
    "BreakerState",
    "BreakerStatistics",
    "BreakerToolbox",
    "CircuitBreaker",
    "DevKeys",
    "Home",
    "RetryingToolbox",
    "ServerConfig",
    "TimeoutToolbox",
    "TokenIssuer",
    "UnreachableAs503",
    "default_home",
    "parse_ttl",
]
