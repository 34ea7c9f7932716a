"""Fault injection and call recording at the server boundary, for evaluation runs.

A `Probe` holds the current scenario's faults and the tools it called. Each in-memory server of
an evaluation gets a `FaultInjector` (an MCP `ServerMiddleware`, running inside the server's guard):
it records every `tools/call`, and the first `times` calls of a faulted tool go wrong:

- `unavailable`: answered at once with an `unavailable` error (the tool is not run);
- `timeout`: the tool runs (a write takes effect), then its answer is held until the caller gives up
  (its `notifications/cancelled` ends the wait) or `Probe.hold_seconds` pass, so the coordinator's own
  per-call timeout fires: a real timeout, bounded;
- `malformed`: the tool runs, and its result comes back with every field of the wrong type;
- `partial`: the tool runs, and its result comes back cut short: each non-empty list cut to its first
  half, or, in a result without one, only the first half of its fields.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from pydantic import BaseModel

from coordinator.eval._suite import Fault, FaultKind
from mcp_servers.kit import error_result
from schemas import Unavailable

DEFAULT_HOLD_SECONDS = 30.0
"""How long a `timeout` fault holds an answer when no runner set `Probe.hold_seconds`."""


@dataclass
class Probe:
    remaining: Counter[str] = field(default_factory=Counter)
    kinds: dict[str, FaultKind] = field(default_factory=dict)
    called: list[str] = field(default_factory=list)
    injected: int = 0
    hold_seconds: float = DEFAULT_HOLD_SECONDS
    """How long a `timeout` fault holds its answer at most: longer than the caller's per-call timeout."""

    def start(self, faults: list[Fault]) -> None:
        self.remaining = Counter({f.qualified: f.times for f in faults})
        self.kinds = {f.qualified: f.error for f in faults}
        self.called = []
        self.injected = 0

    def take(self, tool: str) -> FaultKind | None:
        """Record a call of `tool` (`server.tool`); the fault it gets, if any is left."""
        self.called.append(tool)
        if self.remaining[tool] <= 0:
            return None
        self.remaining[tool] -= 1
        self.injected += 1
        return self.kinds[tool]


class FaultInjector:
    def __init__(self, probe: Probe, server: str) -> None:
        self.probe = probe
        self.server = server

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = f"{self.server}.{(ctx.params or {}).get('name', '')}"
        kind = self.probe.take(name)
        if kind is None:
            return await call_next(ctx)
        if kind == "unavailable":
            return error_result(Unavailable(f"{name}: injected unavailable"))
        result = await call_next(ctx)
        if kind == "timeout":
            await anyio.sleep(self.probe.hold_seconds)  # cancelled as soon as the caller gives up
            return result
        wire = (
            result.model_dump(mode="json", by_alias=True, exclude_none=True)
            if isinstance(result, BaseModel)
            else result
        )
        if not isinstance(wire, dict) or wire.get("isError") or not isinstance(wire.get("structuredContent"), dict):
            return result  # an error, or no structured result: nothing to spoil
        spoiled = (malformed if kind == "malformed" else partial)(wire["structuredContent"])
        return {**wire, "structuredContent": spoiled, "content": [{"type": "text", "text": json.dumps(spoiled)}]}


def malformed(content: dict[str, Any]) -> dict[str, Any]:
    """`content` with each field's value of the wrong shape: a string for a list, a list for anything else."""
    return {key: "malformed" if isinstance(value, list) else ["malformed"] for key, value in content.items()}


def partial(content: dict[str, Any]) -> dict[str, Any]:
    """`content` cut short: each non-empty list cut to its first half; without one, the first half of the fields."""
    lists = {key: value[: len(value) // 2] for key, value in content.items() if isinstance(value, list) and value}
    if lists:
        return {**content, **lists}
    keys = list(content)
    return {key: content[key] for key in keys[: len(keys) // 2]}
