"""Fault injection and call recording at the server boundary, for evaluation runs.

A `Probe` holds the current scenario's faults and the tools it called. Each in-memory server of
an evaluation gets a `FaultInjector` (an MCP `ServerMiddleware`, running inside the server's guard):
it records every `tools/call` and answers the first `times` calls of a faulted tool with an
`unavailable` error ("timeout" faults say so; they answer at once instead of waiting, so a suite
runs fast and the coordinator sees what its timeout would have made of it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from coordinator.eval._suite import Fault
from mcp_servers.kit import error_result
from schemas import Unavailable


@dataclass
class Probe:
    remaining: Counter[str] = field(default_factory=Counter)
    errors: dict[str, str] = field(default_factory=dict)
    called: list[str] = field(default_factory=list)
    injected: int = 0

    def start(self, faults: list[Fault]) -> None:
        self.remaining = Counter({f.qualified: f.times for f in faults})
        self.errors = {f.qualified: f.error for f in faults}
        self.called = []
        self.injected = 0


class FaultInjector:
    def __init__(self, probe: Probe, server: str) -> None:
        self.probe = probe
        self.server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = f"{self.server}.{(ctx.params or {}).get('name', '')}"
        self.probe.called.append(name)
        if self.probe.remaining[name] > 0:
            self.probe.remaining[name] -= 1
            self.probe.injected += 1
            kind = self.probe.errors[name]
            return error_result(Unavailable(f"{name}: injected {kind}"))
        return await call_next(ctx)
