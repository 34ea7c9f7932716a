"""A guarded server's `/metrics` over real HTTP on 127.0.0.1: who may read it, and what it counts (denied calls,
refused tokens, replayed keyed writes, tool latency) with bounded labels."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from prometheus_client.parser import text_string_to_metric_families

from mcp_servers import crm
from mcp_servers.kit import BoundarySettings, Database, GuardedServer
from schemas import TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import ok, seeded
from tests.mcp_servers.test_boundary_http import post

pytestmark = pytest.mark.anyio


@dataclass
class Running:
    url: str
    server: GuardedServer

    @property
    def metrics_url(self) -> str:
        return self.url.removesuffix("/mcp") + "/metrics"


@pytest.fixture
async def running(sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer) -> AsyncIterator[Running]:
    server = seeded(crm, sqlite_db, tenants, BoundarySettings(rate_per_second=1000, burst=1000))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    uv = uvicorn.Server(
        uvicorn.Config(server.http_app(issuer.verifier(audience=url), resource_url=url), log_level="warning")
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: uv.serve(sockets=[sock]))
        try:
            yield Running(url, server)
        finally:
            uv.should_exit = True
    sock.close()


def scrape_token(
    issuer: Issuer,
    audience: str,
    *,
    roles: tuple[str, ...] = ("metrics",),
    tenant: str | None = None,
) -> str:
    return issuer.issuer.mint(tenant=tenant, scopes=[], audience=audience, roles=roles, subject="prometheus")


async def scrape(running: Running, token: str | None) -> httpx2.Response:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(timeout=10) as http:
        return await http.get(running.metrics_url, headers=headers)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_need_a_token_for_this_server_bound_to_every_tenant_with_the_metrics_role(
    running: Running, issuer: Issuer
) -> None:
    missing = await scrape(running, None)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["code"] == "unauthenticated"
    assert (await scrape(running, "not.a.jwt")).status_code == 401
    other_server = scrape_token(issuer, "http://127.0.0.1:9/mcp")
    assert (await scrape(running, other_server)).status_code == 401
    tenant_bound = scrape_token(issuer, running.url, tenant="acme")
    refused = await scrape(running, tenant_bound)
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"
    no_role = scrape_token(issuer, running.url, roles=("viewer",))
    assert (await scrape(running, no_role)).status_code == 403
    answered = await scrape(running, scrape_token(issuer, running.url))
    assert answered.status_code == 200 and answered.headers["content-type"].startswith("text/plain")
    assert "deskhand_denied_calls_total" in {f.name + "_total" for f in text_string_to_metric_families(answered.text)}


async def test_refused_calls_and_tokens_are_counted_with_bounded_labels(running: Running, issuer: Issuer) -> None:
    reader = issuer.token("acme", ["crm:read"], audience=running.url)
    credit = {"name": "issue_credit", "arguments": {"account_id": "A-1", "amount_cents": 100, "reason": "x"}}
    denied = await post(running.url, reader, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": credit})
    assert denied.status_code == 403
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {reader}"}) as http,
        Client(streamable_http_client(running.url, http_client=http)) as client,
    ):
        assert (await client.call_tool("drop_tables; --", {})).is_error
    expired = issuer.issuer.mint(tenant="acme", scopes=["crm:read"], audience=running.url, ttl_seconds=-3600)
    assert (await post(running.url, expired, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})).status_code == 401
    assert (await post(running.url, None, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"})).status_code == 401
    found = samples((await scrape(running, scrape_token(issuer, running.url))).text)
    name = "deskhand_denied_calls_total"
    assert value(found, name, server="crm", tenant="acme", tool="issue_credit", code="insufficient_scope") == 1
    assert value(found, name, server="crm", tenant="acme", tool="(unknown)", code="invalid_argument") == 1
    assert value(found, "deskhand_token_refusals_total", server="crm", reason="expired") == 1
    assert value(found, "deskhand_token_refusals_total", server="crm", reason="missing") == 1
    assert not [key for key in found if "drop_tables" in str(key)]  # a caller's text never becomes a label
    assert value(found, "deskhand_server_tool_seconds_count", server="crm", tool="(unknown)", outcome="denied") == 1


async def test_a_repeated_keyed_write_is_counted_as_replayed_and_calls_are_timed(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants)
    args = {"account_id": "A-1", "amount_cents": 700, "reason": "goodwill"}
    meta = {"deskhand/idempotency-key": "run-7:crm_writer:issue_credit"}
    async with server.audit.running(), connect(server, issuer, "acme", ["crm:credit", "crm:read"]) as client:
        first = ok(await client.call_tool("issue_credit", args, meta=meta))  # type: ignore[arg-type]
        again = ok(await client.call_tool("issue_credit", args, meta=meta))  # type: ignore[arg-type]
        ok(await client.call_tool("get_account", {"account_id": "A-1"}))
    assert first == again
    registry = server.metrics.registry
    replays = {"server": "crm", "tool": "issue_credit"}
    assert registry.get_sample_value("deskhand_idempotent_replays_total", replays) == 1
    timed = {"server": "crm", "tool": "issue_credit", "outcome": "allowed"}
    assert registry.get_sample_value("deskhand_server_tool_seconds_count", timed) == 2
    read = {"server": "crm", "tool": "get_account", "outcome": "allowed"}
    assert registry.get_sample_value("deskhand_server_tool_seconds_count", read) == 1
