"""MCP client sessions per (tenant, specialist, server), opened once and reused by every run.

Each session carries a token the coordinator minted for that tenant, that server's audience and
only the specialist's scopes on that server (never a token it was given). Tokens are short-lived;
a session whose token is about to expire is closed and opened again with a fresh one. Opening a
session per call would cost more than the call itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx2
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError as McpError

from coordinator._tokens import TokenIssuer
from coordinator._toolbox import McpToolbox
from schemas import ServerName, Unavailable, server_of_scope
from specialists.kit import Manifest

Connect = Callable[[str, ServerName, list[str]], AbstractAsyncContextManager[Client]]
"""Opens a client for (tenant, server, scopes)."""


def http_connector(urls: dict[ServerName, str], issuer: TokenIssuer, *, ttl_seconds: int = 900) -> Connect:
    """Clients over streamable HTTP with tokens minted per (tenant, server, scopes)."""

    @asynccontextmanager
    async def connect(tenant: str, server: ServerName, scopes: list[str]) -> AsyncIterator[Client]:
        token = issuer.mint(
            tenant=tenant, scopes=scopes, audience=urls[server], ttl_seconds=ttl_seconds, subject="deskhand-coordinator"
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(urls[server], http_client=http)) as client,
        ):
            yield client

    return connect


@dataclass
class _Entry:
    toolbox: McpToolbox
    close: anyio.Event
    opened: float


class SessionPool:
    """Use as `async with SessionPool(connect) as pool:`. Each session set lives in a task of the
    pool's own (MCP clients must be closed by the task that opened them)."""

    def __init__(self, connect: Connect, *, refresh_after_seconds: float = 600.0) -> None:
        self._connect = connect
        self._refresh_after = refresh_after_seconds
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = anyio.Lock()
        self._tasks: TaskGroup | None = None

    async def __aenter__(self) -> SessionPool:
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for entry in self._entries.values():
            entry.close.set()
        self._entries.clear()
        assert self._tasks is not None
        await self._tasks.__aexit__(None, None, None)

    async def toolbox(self, tenant: str, manifest: Manifest) -> McpToolbox:
        """The discovered toolbox of this specialist for this tenant (sessions opened on first use)."""
        key = (tenant, manifest.name)
        async with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.opened > self._refresh_after:
                entry.close.set()
                entry = None
            if entry is None:
                entry = await self._open(tenant, manifest)
                self._entries[key] = entry
            return entry.toolbox

    async def _open(self, tenant: str, manifest: Manifest) -> _Entry:
        if self._tasks is None:
            raise RuntimeError("use the SessionPool as `async with SessionPool(...) as pool`")
        by_server: dict[ServerName, list[str]] = {}
        for scope in manifest.scopes:
            by_server.setdefault(server_of_scope(scope), []).append(scope)
        ready, close = anyio.Event(), anyio.Event()
        opened: dict[str, McpToolbox] = {}
        failed: list[BaseException] = []

        async def hold() -> None:
            try:
                async with AsyncExitStack() as stack:
                    clients = {}
                    for server, scopes in by_server.items():
                        try:
                            clients[server] = await stack.enter_async_context(self._connect(tenant, server, scopes))
                        except (OSError, httpx2.TransportError, McpError, ExceptionGroup) as exc:
                            raise Unavailable(f"cannot reach the {server} MCP server: {exc}", field=server) from exc
                    opened["toolbox"] = await McpToolbox.discover(clients)
                    ready.set()
                    await close.wait()
            except Exception as exc:  # top-level handler of the session task: hand the failure to the caller
                failed.append(exc)
                ready.set()

        self._tasks.start_soon(hold)
        await ready.wait()
        if failed:
            problem = _leaf(failed[0])
            if isinstance(problem, Unavailable):
                raise problem
            raise Unavailable(f"cannot open MCP sessions for {manifest.name}: {problem}") from failed[0]
        return _Entry(opened["toolbox"], close, time.monotonic())

    async def drop(self, tenant: str, specialist: str) -> None:
        """Close a session set (after a transport failure, so the next use reconnects)."""
        async with self._lock:
            entry = self._entries.pop((tenant, specialist), None)
            if entry is not None:
                entry.close.set()


def _leaf(exc: BaseException) -> BaseException:
    """The first `Unavailable` inside (possibly nested) exception groups, else the first leaf."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [_leaf(inner) for inner in exc.exceptions]
        return next((e for e in leaves if isinstance(e, Unavailable)), leaves[0])
    if isinstance(exc, Unavailable):
        return exc
    cause = exc.__cause__ or exc.__context__
    return _leaf(cause) if isinstance(cause, BaseExceptionGroup | Unavailable) else exc
