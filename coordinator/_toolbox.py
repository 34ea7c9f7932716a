"""The MCP toolbox: a specialist's tools, reached over MCP client sessions that stay open.

One `mcp.Client` per server (opened once, reused for every call: a new session per call would
cost more than the call). `McpToolbox.discover` lists each server's tools; the servers show only
what the token allows, so `available` is what this principal may call. Results come back as the
tool's output model; error results and JSON-RPC errors come back as the `DeskhandError` their
payload names. A result that is not the tool's output model (malformed, cut short, not a tool result at
all) is `ToolOutputInvalid` naming the tool and the first field at fault: the server answered, so it is
not an outage, and whether to try again is the retry wrapper's call (reads and keyed writes only).

Calls go through the session's `send_request` rather than `Client.call_tool`: the latter re-validates
every result against the listed output schema with jsonschema (≈0.5 ms a call here), and the result
is then validated again, against the same contract, as the tool's pydantic output model. Deskhand's
tools do not use the input-required rounds or `x-mcp-header` arguments that `Client.call_tool` also
drives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import httpx2
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolRequest, CallToolRequestParams, CallToolResult, RequestParamsMeta, Tool
from pydantic import BaseModel, ValidationError

from schemas import (
    META_IDEMPOTENCY_KEY,
    META_RUN,
    META_TRACEPARENT,
    DeskhandError,
    ErrorPayload,
    ServerName,
    ToolNotAvailable,
    ToolOutputInvalid,
    ToolSpec,
    Unavailable,
    error_from_payload,
)
from schemas.tools import TOOLS_BY_NAME


class McpToolbox:
    def __init__(
        self, clients: Mapping[ServerName, Client], tools: Mapping[str, Tool], *, trace: str = "", run: str = ""
    ) -> None:
        self._clients = dict(clients)
        self._tools = dict(tools)
        self._available = frozenset(tools)
        self._trace = trace
        self._run = run

    def for_run(self, traceparent: str, run_id: str = "") -> McpToolbox:
        """The same sessions, with the run's W3C `traceparent` and its id sent in every call's `_meta`
        (the pooled sessions' tokens name the specialist, not the run, so the servers learn it here)."""
        return McpToolbox(self._clients, self._tools, trace=traceparent, run=run_id)

    @classmethod
    async def discover(cls, clients: Mapping[ServerName, Client]) -> McpToolbox:
        """List each server's tools once; keep those with a known contract."""
        tools: dict[str, Tool] = {}
        for server, client in clients.items():
            try:
                listed = await client.list_tools()
            except (OSError, httpx2.TransportError, MCPError, ExceptionGroup) as exc:
                raise Unavailable(f"cannot list the tools of the {server} MCP server: {exc}", field=server) from exc
            for tool in listed.tools:
                qualified = f"{server}.{tool.name}"
                if qualified in TOOLS_BY_NAME:
                    tools[qualified] = tool
        return cls(clients, tools)

    @property
    def available(self) -> frozenset[str]:
        return self._available

    def definitions(self, names: Iterable[str]) -> list[Tool]:
        """The MCP definitions (as listed by the servers) of these tools, for a model's tool-use loop."""
        return [self._tools[name] for name in sorted(names) if name in self._tools]

    async def call(self, spec: ToolSpec, args: BaseModel, *, key: str | None = None) -> BaseModel:
        client = self._clients.get(spec.server)
        if client is None or spec.qualified_name not in self._available:
            raise ToolNotAvailable(f"{spec.qualified_name} is not available to this principal")
        values: dict[str, str] = {}
        if key:
            values[META_IDEMPOTENCY_KEY] = key
        if self._trace:
            values[META_TRACEPARENT] = self._trace
        if self._run:
            values[META_RUN] = self._run
        meta = cast(RequestParamsMeta, values) if values else None
        return await call_tool(client, spec, args, meta)


async def call_tool(client: Client, spec: ToolSpec, args: BaseModel, meta: RequestParamsMeta | None) -> BaseModel:
    """One call of `spec` over an open client: its output model, or the `DeskhandError` that stopped it (a JSON-RPC
    error by its data, an answer that is not the tool's output as `ToolOutputInvalid`)."""
    request = CallToolRequest(
        params=CallToolRequestParams(
            name=spec.name, arguments=args.model_dump(mode="json", exclude_none=True), _meta=meta
        )
    )
    try:
        result = await client.session.send_request(request, CallToolResult)
    except MCPError as exc:
        raise error_of_jsonrpc(spec, exc) from exc
    except ValidationError as exc:  # the answer is not even a tool result
        raise ToolOutputInvalid(
            f"{spec.qualified_name} answered with no tool result: {_first(exc)}", field=spec.qualified_name
        ) from exc
    return typed_result(spec, result)


def typed_result(spec: ToolSpec, result: CallToolResult) -> BaseModel:
    """A tool's result as its output model, or the `DeskhandError` its error payload names."""
    if result.is_error:
        try:
            payload = ErrorPayload.model_validate(result.structured_content or {})
        except ValidationError:
            text = " ".join(getattr(c, "text", "") for c in result.content)[:500]
            raise Unavailable(f"{spec.qualified_name} failed without an error payload: {text}") from None
        raise error_from_payload(payload)
    try:
        return spec.output.model_validate(result.structured_content or {})
    except ValidationError as exc:
        raise ToolOutputInvalid(
            f"{spec.qualified_name} returned a result that is not its {spec.output.__name__}: {_first(exc)}",
            field=spec.qualified_name,
        ) from exc


def _first(exc: ValidationError) -> str:
    """The first problem of a validation error, where it is and what was expected, and how many more there are."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "(result)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def error_of_jsonrpc(spec: ToolSpec, exc: MCPError) -> DeskhandError:
    """The `DeskhandError` a JSON-RPC error's data names, else `Unavailable` with its message."""
    data: Any = exc.error.data
    if isinstance(data, dict):
        try:
            return error_from_payload(ErrorPayload.model_validate(data))
        except ValidationError:
            pass
    return Unavailable(f"{spec.qualified_name}: {exc.error.message} (JSON-RPC {exc.error.code})")
