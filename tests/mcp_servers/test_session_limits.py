"""Legacy (`Mcp-Session-Id`) sessions are limited per principal, tenant and server: one tenant cannot refuse another."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from mcp_servers import crm
from mcp_servers.kit import BoundarySettings, Database
from schemas import TenantFile
from tests.conftest import Issuer
from tests.mcp_servers.helpers import seeded

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
LEGACY = "2025-11-25"


class Server:
    def __init__(self, url: str, issuer: Issuer, http: httpx2.AsyncClient) -> None:
        self.url = url
        self.issuer = issuer
        self.http = http

    def token(self, tenant: str, subject: str = "alice") -> str:
        return self.issuer.issuer.mint(tenant=tenant, scopes=["crm:read"], audience=self.url, subject=subject)

    async def open(self, token: str) -> httpx2.Response:
        """Open a legacy session (an `initialize` without a session id)."""
        headers = {
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
        }
        return await self.http.post(self.url, content=json.dumps(INITIALIZE).encode(), headers=headers)

    async def opened(self, token: str) -> str:
        response = await self.open(token)
        assert response.status_code == 200, response.text
        return response.headers["mcp-session-id"]

    async def request(self, method: str, token: str, session_id: str, body: dict[str, Any] | None = None) -> int:
        headers = {
            "Accept": "application/json, text/event-stream",
            "Authorization": f"Bearer {token}",
            "Mcp-Session-Id": session_id,
            "MCP-Protocol-Version": LEGACY,
            "Content-Type": "application/json",
        }
        content = json.dumps(body).encode() if body is not None else None
        response = await self.http.request(method, self.url, content=content, headers=headers)
        return response.status_code

    async def list_tools(self, token: str, session_id: str) -> int:
        return await self.request("POST", token, session_id, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})


@pytest.fixture
def serve(sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer) -> Callable[[BoundarySettings], Any]:
    @asynccontextmanager
    async def start(settings: BoundarySettings) -> AsyncIterator[Server]:
        server = seeded(crm, sqlite_db, tenants, settings)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        app = server.http_app(issuer.verifier(audience=url), resource_url=url)
        uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        async with anyio.create_task_group() as tg, httpx2.AsyncClient(timeout=10) as http:
            tg.start_soon(lambda: uv.serve(sockets=[sock]))
            try:
                yield Server(url, issuer, http)
            finally:
                uv.should_exit = True
        sock.close()

    return start


SMALL = BoundarySettings(sessions_per_principal=3, sessions_per_tenant=5, max_sessions=100)


def assert_refused(response: httpx2.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["data"]["code"] == "rate_limited"
    assert "mcp-session-id" not in response.headers


async def test_one_tenant_at_its_session_limits_gets_429_while_another_tenant_still_opens_sessions(
    serve: Callable[[BoundarySettings], Any],
) -> None:
    async with serve(SMALL) as server:
        alice, bob, other = server.token("acme", "alice"), server.token("acme", "bob"), server.token("northwind")
        for _ in range(3):
            await server.opened(alice)
        assert_refused(await server.open(alice), 429)  # alice's own limit
        for _ in range(2):
            await server.opened(bob)
        assert_refused(await server.open(bob), 429)  # the tenant's limit, though bob has only two
        for _ in range(3):
            await server.opened(other)  # the other tenant is untouched
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}"}) as http,
            Client(streamable_http_client(server.url, http_client=http)) as c,
        ):
            assert len((await c.list_tools()).tools) == 3  # sessionless (2026-07-28) requests are not limited


async def test_a_tenant_flooding_sessions_never_refuses_another_tenant(
    serve: Callable[[BoundarySettings], Any],
) -> None:
    async with serve(BoundarySettings(sessions_per_principal=10, sessions_per_tenant=10, max_sessions=20)) as server:
        flooder, other = server.token("acme"), server.token("northwind")
        statuses = [(await server.open(flooder)).status_code for _ in range(30)]
        assert statuses.count(200) == 10 and set(statuses[10:]) == {429}
        for _ in range(10):
            await server.opened(other)


async def test_the_server_limit_is_503_with_retry_after(serve: Callable[[BoundarySettings], Any]) -> None:
    async with serve(BoundarySettings(sessions_per_principal=2, sessions_per_tenant=2, max_sessions=3)) as server:
        acme, northwind = server.token("acme"), server.token("northwind")
        await server.opened(acme)
        await server.opened(acme)
        await server.opened(northwind)
        assert_refused(await server.open(northwind), 503)


async def test_deleting_a_session_frees_its_slot(serve: Callable[[BoundarySettings], Any]) -> None:
    async with serve(SMALL) as server:
        alice = server.token("acme")
        sessions = [await server.opened(alice) for _ in range(3)]
        assert_refused(await server.open(alice), 429)
        assert await server.request("DELETE", alice, sessions[0]) == 200
        assert await server.list_tools(alice, sessions[0]) == 404
        await server.opened(alice)


async def test_a_session_id_used_by_another_principal_is_404_and_keeps_its_owners_slot(
    serve: Callable[[BoundarySettings], Any],
) -> None:
    async with serve(SMALL) as server:
        alice, mallory = server.token("acme", "alice"), server.token("northwind", "mallory")
        sessions = [await server.opened(alice) for _ in range(3)]
        assert await server.request("DELETE", mallory, sessions[0]) == 404
        assert await server.list_tools(mallory, sessions[0]) == 404
        assert await server.list_tools(alice, sessions[0]) == 200
        assert_refused(await server.open(alice), 429)  # still counted as alice's


async def test_idle_sessions_are_reaped_and_free_their_slots(serve: Callable[[BoundarySettings], Any]) -> None:
    settings = BoundarySettings(sessions_per_principal=2, sessions_per_tenant=2, session_idle_seconds=0.5)
    async with serve(settings) as server:
        alice = server.token("acme")
        first = await server.opened(alice)
        await server.opened(alice)
        refused = await server.open(alice)
        assert_refused(refused, 429)
        with anyio.fail_after(10):
            while (response := await server.open(alice)).status_code == 429:  # noqa: ASYNC110 - polls the server
                await anyio.sleep(0.05)
        assert response.status_code == 200
        assert await server.list_tools(alice, first) == 404  # the SDK reaped it too


def test_session_limits_must_leave_room_for_other_tenants() -> None:
    with pytest.raises(ValueError, match="session limits"):
        BoundarySettings(sessions_per_tenant=10_000, max_sessions=10_000)
    with pytest.raises(ValueError, match="session limits"):
        BoundarySettings(sessions_per_principal=300, sessions_per_tenant=256)


@pytest.mark.slow
async def test_a_flood_from_one_tenant_gets_only_typed_refusals_while_the_other_tenant_is_served(
    serve: Callable[[BoundarySettings], Any],
) -> None:
    """10 clients of one tenant (half legacy sessions, half 2026-era) call as fast as they can, past the
    tenant's rate: every reply is HTTP 200/202, a result or `rate_limited` with `retry_after`; none hangs."""
    settings = BoundarySettings(rate_per_second=20, burst=20, sessions_per_principal=8, sessions_per_tenant=8)
    async with serve(settings) as server:
        statuses: list[int] = []
        outcomes: dict[str, list[str]] = {"acme": [], "northwind": []}
        slowest = 0.0

        async def record(response: httpx2.Response) -> None:
            statuses.append(response.status_code)

        async def client(tenant: str, subject: str, mode: str, calls: int) -> None:
            nonlocal slowest
            headers = {"Authorization": f"Bearer {server.token(tenant, subject)}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [record]}) as http,
                Client(streamable_http_client(server.url, http_client=http), mode=mode) as c,  # type: ignore[arg-type]
            ):
                for _ in range(calls):
                    started = anyio.current_time()
                    result = await c.call_tool("find_customer", {"email": "nobody@example.com"})
                    slowest = max(slowest, anyio.current_time() - started)
                    payload = result.structured_content or {}
                    if result.is_error:
                        assert payload["code"] == "rate_limited" and payload["retry_after"] >= 0, payload
                    outcomes[tenant].append(str(payload.get("code", "ok")))

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(client, "acme", f"flooder-{i}", "legacy" if i % 2 else "auto", 60)
                tg.start_soon(client, "northwind", "calm", "auto", 5)
        assert set(statuses) <= {200, 202}
        assert "rate_limited" in outcomes["acme"] and "ok" in outcomes["acme"]
        assert outcomes["northwind"] == ["ok"] * 5
        assert slowest < 10
