"""Bad requests over real HTTP: every error reply is JSON with a code, never a 500 with a traceback, and the
server goes on serving and auditing."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR
from sqlmodel import select

from mcp_servers import crm
from mcp_servers.kit import AuditRecord, Database, GuardedServer, TenantSession
from schemas import META_IDEMPOTENCY_KEY, TenantFile
from schemas.tools.crm import FIND_CUSTOMER, FindCustomerIn, FindCustomerOut
from tests.conftest import Issuer
from tests.mcp_servers.helpers import seeded

pytestmark = pytest.mark.anyio

MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Served:
    url: str
    token: str
    server: GuardedServer

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.token}",
            **extra,
        }

    async def post(self, body: bytes | dict[str, Any], headers: dict[str, str]) -> httpx2.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with httpx2.AsyncClient(timeout=10) as http:
            return await http.post(self.url, content=content, headers=headers)

    def modern(self, tool: str = "find_customer") -> dict[str, str]:
        return self.headers(**{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool})

    async def call_modern(self, arguments: dict[str, Any], request_id: int = 1) -> httpx2.Response:
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "tools/call",
            "params": {"name": "find_customer", "arguments": arguments, "_meta": MODERN_META},
        }
        return await self.post(body, self.modern())

    async def legacy_session(self) -> dict[str, str]:
        """Headers of a fresh legacy (2025-era) session."""
        init = {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        reply = await self.post(init, self.headers())
        assert reply.status_code == 200, reply.text
        headers = self.headers(
            **{"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": reply.headers["mcp-session-id"]}
        )
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, headers)
        return headers

    async def audit(self) -> list[AuditRecord]:
        await self.server.audit.flush()
        with self.server.db.admin_session() as session:
            return list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())  # type: ignore[arg-type]


@asynccontextmanager
async def serve(server: GuardedServer, issuer: Issuer, scopes: list[str]) -> AsyncIterator[Served]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts: no start-up race
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    app = server.http_app(issuer.verifier(audience=url), resource_url=url)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        try:
            yield Served(url, issuer.token("acme", scopes, audience=url), server)
        finally:
            uv.should_exit = True
    sock.close()


@pytest.fixture
async def served(sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer) -> AsyncIterator[Served]:
    async with serve(seeded(crm, sqlite_db, tenants), issuer, ["crm:read", "crm:write"]) as running:
        yield running


def error_of(reply: httpx2.Response) -> dict[str, Any]:
    assert reply.headers["content-type"].startswith("application/json"), reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert isinstance(error["code"], int)
    return error


def tool_error_code(reply: httpx2.Response) -> str:
    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert result["isError"] is True
    return str(result["structuredContent"]["code"])


async def test_deeply_nested_json_is_a_parse_error_and_the_server_goes_on(served: Served) -> None:
    legacy = await served.legacy_session()
    deep = b"[" * 20_000 + b"]" * 20_000
    in_arguments = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"find_customer","arguments":{"email":'
        + deep
        + b"}}}"
    )
    for body, headers in [(deep, served.modern()), (in_arguments, served.modern()), (in_arguments, legacy)]:
        reply = await served.post(body, headers)
        assert reply.status_code == 400
        assert error_of(reply)["code"] == PARSE_ERROR
    assert (await served.call_modern({"email": "nobody@example.com"})).json()["result"]["isError"] is False


async def test_the_sdks_plain_text_refusals_are_json_rpc_errors(served: Served) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": MODERN_META}}
    for extra, status in [
        ({"Content-Type": "text/plain"}, 400),
        ({"Host": "evil.example"}, 421),
        ({"Origin": "http://evil.example"}, 403),
    ]:
        reply = await served.post(call, {**served.modern(), **extra})
        assert reply.status_code == status
        assert error_of(reply)["code"] == INVALID_REQUEST


async def test_lone_surrogates_are_refused_and_the_audit_goes_on_writing(served: Served) -> None:
    legacy = await served.legacy_session()

    def raw(name: str, arguments: dict[str, Any], key: str = "k") -> bytes:
        params = {"name": name, "arguments": arguments, "_meta": {META_IDEMPOTENCY_KEY: key}}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        return json.dumps(body).replace("SURROGATE", "\\ud800").encode()

    # The gate reads the body before the SDK: a call the token's scopes do not allow is refused and audited there.
    credit = {"account_id": "A-1", "amount_cents": 100, "reason": "SURROGATE"}
    denied = await served.post(raw("issue_credit", credit), legacy)
    assert denied.status_code == 403 and error_of(denied)["data"]["code"] == "insufficient_scope"
    # The SDK does not parse lone surrogates: a 400 parse error, in a name, an argument or the key.
    for body in [
        raw("SURROGATE", {"email": "a@example.com"}),
        raw("find_customer", {"email": "SURROGATE"}),
        raw("find_customer", {"email": "a@example.com"}, key="SURROGATE"),
    ]:
        reply = await served.post(body, legacy)
        assert reply.status_code == 400 and error_of(reply)["code"] == PARSE_ERROR
    ok = await served.call_modern({"email": "nobody@example.com"})
    assert ok.json()["result"]["isError"] is False
    rows = await served.audit()
    assert [(r.tool, r.outcome, r.code) for r in rows] == [
        ("issue_credit", "denied", "insufficient_scope"),
        ("find_customer", "allowed", None),
    ]
    assert served.server.audit.stats.unstorable == 0


def raising(message: str) -> Callable[[FindCustomerIn, TenantSession], FindCustomerOut]:
    def handler(args: FindCustomerIn, session: TenantSession) -> FindCustomerOut:
        raise RuntimeError(message)

    return handler


async def test_an_unexpected_exception_is_an_internal_error_naming_a_correlation_id_logged_once(
    sqlite_db: Database, issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    server = GuardedServer("crm", db=sqlite_db)
    server.add_tool(FIND_CUSTOMER, raising("secret detail"))
    server.create_tables()
    caplog.set_level(logging.ERROR)
    async with serve(server, issuer, ["crm:read"]) as running:
        reply = await running.call_modern({"email": "nobody@example.com"})
    error = error_of(reply)
    assert error["code"] == INTERNAL_ERROR
    correlation_id = error["data"]["correlation_id"]
    assert correlation_id in error["message"] and "secret" not in reply.text
    logged = [r for r in caplog.records if correlation_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert not [r for r in caplog.records if "secret detail" in r.getMessage()]


async def test_an_exception_inside_the_guard_is_an_internal_error_without_details(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants)

    async def broken(ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call":
            raise RuntimeError("secret detail")
        return await call_next(ctx)

    mcp = await server.in_memory(issuer.verifier(), issuer.token("acme", ["crm:read"]), middleware=[broken])
    async with Client(mcp) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("find_customer", {"email": "nobody@example.com"})
    assert raised.value.error.code == INTERNAL_ERROR
    assert "secret" not in raised.value.error.message and "correlation id" in raised.value.error.message


async def test_a_request_id_reused_while_in_flight_in_a_legacy_session_is_refused_at_once(
    sqlite_db: Database, issuer: Issuer
) -> None:
    entered, release = threading.Event(), threading.Event()

    def waiting(args: FindCustomerIn, session: TenantSession) -> FindCustomerOut:
        entered.set()
        release.wait(10)
        return FindCustomerOut(customer=None)

    server = GuardedServer("crm", db=sqlite_db)
    server.add_tool(FIND_CUSTOMER, waiting, blocking=True)
    server.create_tables()
    params = {"name": "find_customer", "arguments": {"email": "a@b.co"}}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    replies: list[httpx2.Response] = []
    async with serve(server, issuer, ["crm:read"]) as running:
        legacy = await running.legacy_session()

        async def first() -> None:
            replies.append(await running.post(call, legacy))

        with anyio.fail_after(8):
            async with anyio.create_task_group() as tg:
                tg.start_soon(first)
                await anyio.to_thread.run_sync(entered.wait)
                second = await running.post(call, legacy)
                release.set()
    assert second.status_code == 409 and error_of(second)["code"] == INVALID_REQUEST
    assert replies[0].status_code == 200 and replies[0].json()["result"]["isError"] is False


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"name": "find_customer", "arguments": [1]}, "(arguments)"),
        ({"name": "find_customer", "arguments": {"email": "a@b.co"}, "_meta": [1]}, "_meta"),
        ({"name": 5, "arguments": {}}, "name"),
    ],
)
async def test_wrongly_shaped_call_params_are_invalid_argument(
    served: Served, params: dict[str, Any], field: str
) -> None:
    legacy = await served.legacy_session()
    reply = await served.post({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}, legacy)
    assert tool_error_code(reply) == "invalid_argument"
    assert reply.json()["result"]["structuredContent"]["field"] == field


async def test_the_gate_answers_an_exception_below_it_with_a_json_internal_error(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.types import Receive, Scope, Send

    from mcp_servers.kit import AuditLog, ScopeGate

    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("secret detail")

    gate = ScopeGate(broken, specs={}, audit=AuditLog(sqlite_db), max_request_bytes=1024, resource_metadata_url="x")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    uv = uvicorn.Server(uvicorn.Config(gate, log_level="warning", lifespan="off"))
    caplog.set_level(logging.ERROR)
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        async with httpx2.AsyncClient(timeout=10) as http:
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
            replies = [await http.post(url, content=b"{}"), await http.get(url)]
        uv.should_exit = True
    sock.close()
    for reply in replies:
        assert reply.status_code == 500 and "secret" not in reply.text
        error = error_of(reply)
        assert error["code"] == INTERNAL_ERROR
        assert len([r for r in caplog.records if error["data"]["correlation_id"] in r.getMessage()]) == 1
