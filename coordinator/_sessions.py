"""MCP client sessions per (tenant, specialist, server), opened once and reused by every run.

Each session carries a token the coordinator minted for that tenant, that server's audience and
only the specialist's scopes on that server (never a token it was given), with the subject
`specialist:<name>`; the run of each call travels in the call's `_meta`. Tokens are short-lived;
a session whose token is about to expire is replaced by one with a fresh token. Opening a
session per call would cost more than the call itself.

The pool is bounded: past `max_sets` session sets (one per tenant and specialist), the least recently
used idle one is closed, so a coordinator serving thousands of tenants keeps only its busy ones open.
A set is closed only when no handoff is using it (replaced and dropped sets close when released).

Where a tenant's calls to a server go is a `Routes` lookup by (tenant, server): the shared servers with the
shared signing key, or, for a pinned tenant, its own servers with its own key.
"""

from __future__ import annotations

import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx2
from anyio.abc import TaskGroup
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError as McpError

from coordinator._tokens import Attribution, TokenIssuer
from coordinator._toolbox import McpToolbox
from schemas import ConfigError, ServerName, Unavailable, server_of_scope
from specialists.kit import Manifest

Connect = Callable[[str, ServerName, list[str], Attribution], AbstractAsyncContextManager[Client]]
"""Opens a client for (tenant, server, scopes), with a token attributed to the given caller."""


@dataclass(frozen=True)
class Route:
    """Where one tenant's calls to one server go, and the issuer that signs their tokens."""

    url: str
    issuer: TokenIssuer


@dataclass(frozen=True)
class Tier:
    """Servers that share one signing key: the shared tier, or one pinned tenant's servers."""

    urls: Mapping[ServerName, str]
    issuer: TokenIssuer


@dataclass(frozen=True)
class Routes:
    """The shared tier, and the tier pinned to each isolated tenant: a tenant's calls to a server it pins go to its
    pinned server with its own key, every other call to the shared server with the shared key."""

    shared: Tier
    pinned: Mapping[str, Tier] = field(default_factory=dict)

    def route(self, tenant: str, server: ServerName) -> Route | None:
        tier = self.pinned.get(tenant)
        if tier is None or server not in tier.urls:
            tier = self.shared
        return Route(tier.urls[server], tier.issuer) if server in tier.urls else None


def http_connector(routes: Routes, *, ttl_seconds: int = 900) -> Connect:
    """Clients over streamable HTTP with tokens minted per (tenant, server, scopes), each by the issuer of the
    tenant's route to the server. One TLS context serves them all: building one per client costs ~6 ms (more than
    opening the session itself)."""
    tls = ssl.create_default_context()

    @asynccontextmanager
    async def connect(tenant: str, server: ServerName, scopes: list[str], caller: Attribution) -> AsyncIterator[Client]:
        route = routes.route(tenant, server)
        if route is None:
            raise ConfigError(
                f"no URL for the server {server!r} (scopes {scopes}): install its package or give it one in "
                f"deskhand.toml ([servers.{server}] url = ...); known: {list(routes.shared.urls)}",
                field=f"servers.{server}",
            )
        token = route.issuer.mint(
            tenant=tenant,
            scopes=scopes,
            audience=route.url,
            ttl_seconds=caller.ttl_seconds or ttl_seconds,
            subject=caller.subject,
            run=caller.run,
            actor=caller.actor,
        )
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30, verify=tls) as http,
            Client(streamable_http_client(route.url, http_client=http)) as client,
        ):
            yield client

    return connect


@dataclass
class _Entry:
    toolbox: McpToolbox
    close: anyio.Event
    opened: float
    users: int = 0
    retired: bool = False

    def release(self) -> None:
        self.users -= 1
        if self.retired and self.users == 0:
            self.close.set()

    def retire(self) -> None:
        """No new user gets this set; it closes when its last user is done."""
        self.retired = True
        if self.users == 0:
            self.close.set()


class SessionPool:
    """Use as `async with SessionPool(connect) as pool:`. Each session set lives in a task of the
    pool's own (MCP clients must be closed by the task that opened them)."""

    def __init__(self, connect: Connect, *, refresh_after_seconds: float = 600.0, max_sets: int = 256) -> None:
        self._connect = connect
        self._refresh_after = refresh_after_seconds
        self._max_sets = max_sets
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
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

    def __len__(self) -> int:
        """How many session sets are open."""
        return len(self._entries)

    @asynccontextmanager
    async def session(self, tenant: str, manifest: Manifest) -> AsyncIterator[McpToolbox]:
        """The discovered toolbox of this specialist for this tenant, for the duration of the block
        (sessions opened on first use, kept open for the next handoff)."""
        entry = await self._acquire(tenant, manifest)
        try:
            yield entry.toolbox
        finally:
            entry.release()

    async def _acquire(self, tenant: str, manifest: Manifest) -> _Entry:
        key = (tenant, manifest.name)
        async with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry.opened > self._refresh_after:
                del self._entries[key]
                entry.retire()  # its token is getting old: new users get a fresh set
                entry = None
            if entry is None:
                entry = await self._open(tenant, manifest)
                self._entries[key] = entry
            else:
                self._entries.move_to_end(key)
            entry.users += 1
            self._evict()
            return entry

    def _evict(self) -> None:
        """Close the least recently used idle sets beyond `max_sets`."""
        excess = len(self._entries) - self._max_sets
        if excess <= 0:
            return
        for key in [k for k, e in self._entries.items() if e.users == 0][:excess]:
            self._entries.pop(key).retire()

    async def _open(self, tenant: str, manifest: Manifest) -> _Entry:
        if self._tasks is None:
            raise RuntimeError("use the SessionPool as `async with SessionPool(...) as pool`")
        by_server: dict[ServerName, list[str]] = {}
        for scope in manifest.scopes:
            by_server.setdefault(server_of_scope(scope), []).append(scope)
        caller = Attribution.specialist(manifest.name)
        ready, close = anyio.Event(), anyio.Event()
        opened: dict[str, McpToolbox] = {}
        failed: list[BaseException] = []

        async def hold() -> None:
            try:
                async with AsyncExitStack() as stack:
                    clients = {}
                    for server, scopes in by_server.items():
                        try:
                            opening = self._connect(tenant, server, scopes, caller)
                            clients[server] = await stack.enter_async_context(opening)
                        except (OSError, httpx2.TransportError, McpError, ExceptionGroup) as exc:
                            raise unreachable(server, exc) from exc
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
                entry.retire()


def _leaf(exc: BaseException) -> BaseException:
    """The first `Unavailable` inside (possibly nested) exception groups, else the first leaf."""
    if isinstance(exc, BaseExceptionGroup):
        leaves = [_leaf(inner) for inner in exc.exceptions]
        return next((e for e in leaves if isinstance(e, Unavailable)), leaves[0])
    if isinstance(exc, Unavailable):
        return exc
    cause = exc.__cause__ or exc.__context__
    return _leaf(cause) if isinstance(cause, BaseExceptionGroup | Unavailable) else exc


def exception_leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (possibly nested) exception groups, and the causes they were raised from."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from exception_leaves(inner)
        return
    yield exc
    if exc.__cause__ is not None:
        yield from exception_leaves(exc.__cause__)


def unreachable(server: str, exc: BaseException) -> Unavailable:
    """What a failure to reach `server` is called: its URL and why (`connection refused`, `timed out`) when a
    transport failure is inside `exc`, else the first exception inside it."""
    failed = transport_failure(exc)
    if failed is not None:
        return Unavailable(f"cannot reach the {server} MCP server at {failed}", field=server)
    leaf = next(exception_leaves(exc))
    return Unavailable(f"cannot reach the {server} MCP server: {leaf or type(leaf).__name__}", field=server)


def transport_failure(exc: BaseException) -> str | None:
    """`http://127.0.0.1:8701/mcp: connection refused`-style words for the first transport failure inside `exc`
    (through exception groups and causes), or None if there is none."""
    for leaf in exception_leaves(exc):
        if isinstance(leaf, httpx2.TransportError):
            try:
                url = str(leaf.request.url)
            except RuntimeError:  # an error raised without a request
                url = "?"
            if isinstance(leaf, httpx2.ConnectError):
                why = "connection refused"
            elif isinstance(leaf, httpx2.TimeoutException):
                why = "timed out"
            else:
                why = str(leaf) or type(leaf).__name__
            return f"{url}: {why}"
    return None
