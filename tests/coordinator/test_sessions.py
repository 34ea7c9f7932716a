"""The session pool: sessions are reused, bounded, and never closed under a handoff that uses them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from mcp import Client

from coordinator._registry import load_specialists
from coordinator._sessions import Routes, SessionPool, Tier, http_connector
from coordinator._tokens import Attribution, DevKeys, TokenIssuer
from coordinator.cli import free_port
from schemas import ServerName, Unavailable, server_of_scope
from schemas.tools import crm
from tests.conftest import ISSUER
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio

TRIAGE = load_specialists()["triage"].manifest
DRAFTING = load_specialists()["drafting"].manifest


class Counting:
    """The world's in-memory connector, telling which session sets were opened and when each closed."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.opened: list[tuple[str, ServerName]] = []
        self.callers: list[Attribution] = []
        self.closed: list[tuple[str, ServerName]] = []
        self._changed = anyio.Event()

    @asynccontextmanager
    async def connect(
        self, tenant: str, server: ServerName, scopes: list[str], caller: Attribution
    ) -> AsyncIterator[Client]:
        self.opened.append((tenant, server))
        self.callers.append(caller)
        try:
            async with self.world.connect(tenant, server, scopes, caller) as client:
                yield client
        finally:
            self.closed.append((tenant, server))
            self._changed.set()

    async def closed_count(self, n: int) -> list[tuple[str, ServerName]]:
        """The sessions closed so far, once at least `n` have (closing happens in the pool's own tasks)."""
        with anyio.fail_after(10):
            while len(self.closed) < n:
                self._changed = anyio.Event()
                await self._changed.wait()
        return self.closed


def servers_of(manifest: object) -> set[ServerName]:
    return {server_of_scope(scope) for scope in manifest.scopes}  # type: ignore[attr-defined]


async def find(toolbox: object, email: str) -> object:
    return await toolbox.call(crm.FIND_CUSTOMER, crm.FindCustomerIn(email=email))  # type: ignore[attr-defined]


async def test_a_session_set_is_opened_once_and_reused(world: World) -> None:
    counting = Counting(world)
    email = world.tenants["acme"].customers[0].email
    async with SessionPool(counting.connect) as pool:
        for _ in range(5):
            async with pool.session("acme", TRIAGE) as toolbox:
                assert (await find(toolbox, email)).customer is not None  # type: ignore[attr-defined]
        assert len(pool) == 1
    triage_servers = {server for _, server in counting.opened}
    assert len(counting.opened) == len(triage_servers)  # one session per server, not one per call
    assert {caller.subject for caller in counting.callers} == {"specialist:triage"}  # its tokens name it


async def test_past_its_bound_the_pool_closes_the_least_recently_used_idle_set(world: World) -> None:
    counting = Counting(world)
    async with SessionPool(counting.connect, max_sets=2) as pool:
        for tenant, manifest in (("acme", TRIAGE), ("northwind", TRIAGE), ("acme", DRAFTING)):
            async with pool.session(tenant, manifest):
                pass
        assert len(pool) == 2
        closed = await counting.closed_count(len(servers_of(TRIAGE)))
        assert {tenant for tenant, _ in closed} == {"acme"}  # (acme, triage) was the least recently used
        opened_before = len(counting.opened)
        async with pool.session("acme", TRIAGE) as toolbox:  # comes back: opened again, and it works
            assert (await find(toolbox, world.tenants["acme"].customers[0].email)).customer is not None  # type: ignore[attr-defined]
        assert len(counting.opened) > opened_before
        assert len(pool) == 2


async def test_a_set_in_use_is_not_closed_by_eviction_or_drop(world: World) -> None:
    counting = Counting(world)
    email = world.tenants["acme"].customers[0].email
    async with SessionPool(counting.connect, max_sets=1) as pool:
        async with pool.session("acme", TRIAGE) as busy:
            async with pool.session("northwind", TRIAGE):
                pass  # over the bound, but the busy set has a user: it stays open
            await pool.drop("acme", "triage")
            assert (await find(busy, email)).customer is not None  # type: ignore[attr-defined]
            assert counting.closed == []
        closed = await counting.closed_count(len(servers_of(TRIAGE)))
        assert {tenant for tenant, _ in closed} == {"acme"}  # closed once released; northwind's stays open
        assert len(pool) == 1


async def test_a_server_nobody_listens_on_is_unavailable_naming_the_server_and_its_url(dev_keys: DevKeys) -> None:
    urls: dict[ServerName, str] = {s: f"http://127.0.0.1:{free_port()}/mcp" for s in servers_of(TRIAGE)}
    async with SessionPool(http_connector(Routes(Tier(urls, TokenIssuer(dev_keys, issuer=ISSUER))))) as pool:
        with pytest.raises(Unavailable) as caught:
            async with pool.session("acme", TRIAGE):
                pass
    error, named = caught.value, {str(server): url for server, url in urls.items()}
    assert error.code == "unavailable" and error.field in named
    assert f"the {error.field} MCP server at {named[str(error.field)]}: connection refused" in error.message
    assert "TaskGroup" not in error.message
