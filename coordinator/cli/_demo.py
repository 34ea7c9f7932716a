"""`deskhand demo`: the four MCP servers as separate processes, and two tenants' inboxes through them.

Until the coordinator runtime lands, the demo walks each inbox message through the boundary the
way the specialists will: read the message, find the customer, search the knowledge base, open a
ticket and save a draft (both with idempotency keys), mark it processed. Every call goes over
streamable HTTP with a token minted for one tenant, one server and the least scopes needed. It
then shows that the boundary holds: another tenant's ids are not found, a tool outside the
token's scopes is refused with 403, and a replayed write is written once.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import RequestParamsMeta
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coordinator._home import Home, ServerConfig
from coordinator._tokens import DevKeys, TokenIssuer
from coordinator.cli._processes import free_port, running_servers
from schemas import BUILTIN_ROLES, META_IDEMPOTENCY_KEY, ConfigError, ServerName, TenantFile, server_of_scope

DEMO_SCOPES = BUILTIN_ROLES["agent"]


@dataclass
class Outcome:
    tenant: str
    message: str
    sender: str
    customer: str
    article: str
    ticket: str
    draft: str
    calls: int
    latency_ms: float


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)

    @asynccontextmanager
    async def timed(self) -> AsyncIterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.latencies.append((time.perf_counter() - start) * 1000)


class TenantTools:
    """One MCP client per server for one tenant, each with a token for that server only, reused for every call."""

    def __init__(self, clients: dict[ServerName, Client], stats: Stats) -> None:
        self._clients = clients
        self._stats = stats
        self.calls = 0

    @classmethod
    @asynccontextmanager
    async def open(
        cls, stack: AsyncExitStack, home: Home, issuer: TokenIssuer, tenant: str, scopes: list[str], stats: Stats
    ) -> AsyncIterator[TenantTools]:
        clients: dict[ServerName, Client] = {}
        for name, config in home.servers.items():
            own = [s for s in scopes if server_of_scope(s) == name]
            if own:
                clients[name] = await stack.enter_async_context(_client(config, issuer, tenant, own))
        yield cls(clients, stats)

    async def call(self, server: ServerName, tool: str, args: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        self.calls += 1
        meta = _meta(key)
        async with self._stats.timed():
            result = await self._clients[server].call_tool(tool, args, meta=meta)
        if result.is_error:
            payload = result.structured_content or {}
            raise ConfigError(f"{server}.{tool} failed: {payload.get('code')}: {payload.get('message')}")
        return result.structured_content or {}

    async def error_code(self, server: ServerName, tool: str, args: dict[str, Any], key: str | None = None) -> str:
        """The error code a call ends with ('ok' if it succeeds)."""
        meta = _meta(key)
        try:
            result = await self._clients[server].call_tool(tool, args, meta=meta)
        except MCPError as exc:
            data = exc.error.data if isinstance(exc.error.data, dict) else {}
            return f"{data.get('code', 'error')} (JSON-RPC {exc.error.code})"
        return str((result.structured_content or {}).get("code", "?")) if result.is_error else "ok"


@asynccontextmanager
async def _client(config: ServerConfig, issuer: TokenIssuer, tenant: str, scopes: list[str]) -> AsyncIterator[Client]:
    token = issuer.mint(tenant=tenant, scopes=scopes, audience=config.url, ttl_seconds=900, subject="deskhand-demo")
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(config.url, http_client=http)) as client,
    ):
        yield client


def _meta(key: str | None) -> RequestParamsMeta | None:
    return cast(RequestParamsMeta, {META_IDEMPOTENCY_KEY: key}) if key else None


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _draft(tenant: TenantFile, customer: str, article: dict[str, Any] | None) -> str:
    templates = tenant.policy.drafting.templates
    template = templates.get("default", "Hi {customer_name},\n\n{answer}\n\n{signature}")
    answer = (
        f"This article should help: {article['title']}. {article['snippet']}"
        if article
        else "Thanks for writing in. A member of our team will get back to you shortly."
    )
    return template.format(customer_name=customer, answer=answer, signature=tenant.policy.drafting.signature)


async def _process(tools: TenantTools, tenant: TenantFile, message_id: str) -> Outcome:
    started = time.perf_counter()
    calls_before = tools.calls
    message = await tools.call("mailbox", "get_message", {"message_id": message_id})
    found = (await tools.call("crm", "find_customer", {"email": message["sender"]}))["customer"]
    hits = (await tools.call("knowledge", "search_articles", {"query": message["subject"], "limit": 3}))["items"]
    article = hits[0] if hits else None
    name = found["name"] if found else message["sender"].split("@")[0]
    ticket = await tools.call(
        "helpdesk",
        "create_ticket",
        {
            "customer_email": message["sender"],
            "subject": message["subject"],
            "body": message["body"],
            "source_message_id": message_id,
        },
        key=_key(tenant.tenant, message_id, "create_ticket"),
    )
    body = _draft(tenant, name, article)
    draft = await tools.call(
        "mailbox",
        "save_draft",
        {"message_id": message_id, "body": body},
        key=_key(tenant.tenant, message_id, "save_draft"),
    )
    await tools.call(
        "helpdesk",
        "attach_draft",
        {"ticket_id": ticket["id"], "body": body},
        key=_key(tenant.tenant, message_id, "attach_draft"),
    )
    await tools.call("mailbox", "mark_processed", {"message_id": message_id})
    return Outcome(
        tenant=tenant.tenant,
        message=message_id,
        sender=message["sender"],
        customer=found["id"] if found else "unknown sender",
        article=article["id"] if article else "-",
        ticket=ticket["id"],
        draft=draft["id"],
        calls=tools.calls - calls_before,
        latency_ms=(time.perf_counter() - started) * 1000,
    )


async def _run(home: Home, tenants: list[TenantFile], console: Console) -> int:
    issuer = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer)
    stats = Stats()
    outcomes: list[Outcome] = []
    checks: list[tuple[str, str, str]] = []
    async with AsyncExitStack() as stack:
        tools = {
            t.tenant: await stack.enter_async_context(
                TenantTools.open(stack, home, issuer, t.tenant, DEMO_SCOPES, stats)
            )
            for t in tenants
        }
        inboxes = {t.tenant: (await tools[t.tenant].call("mailbox", "list_inbox", {}))["items"] for t in tenants}
        total = sum(len(items) for items in inboxes.values())
        progress = Progress(
            TextColumn("[bold]processing inbox"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("", total=total)
            for tenant in tenants:
                for item in inboxes[tenant.tenant]:
                    progress.update(task, description=f"{tenant.tenant} {item['id']}")
                    outcomes.append(await _process(tools[tenant.tenant], tenant, item["id"]))
                    progress.advance(task)

        # The boundary, shown: each check states what must happen and what did.
        first, second = tenants[0], tenants[1]
        a, b = tools[first.tenant], tools[second.tenant]
        other_message = second.inbox[0].id if second.inbox else "none"
        checks.append(
            (
                f"{first.tenant} reads {second.tenant}'s message {other_message}",
                "not_found",
                await a.error_code("mailbox", "get_message", {"message_id": other_message}),
            )
        )
        other_email = second.customers[0].email
        result = await a.call("crm", "find_customer", {"email": other_email})
        checks.append(
            (
                f"{first.tenant} looks up {second.tenant}'s customer {other_email}",
                "no customer",
                "no customer" if result["customer"] is None else "FOUND",
            )
        )
        account = first.customers[0].account
        checks.append(
            (
                f"{first.tenant} agent issues a credit (no crm:credit scope)",
                "insufficient_scope (JSON-RPC -32003)",
                await a.error_code(
                    "crm", "issue_credit", {"account_id": account, "amount_cents": 500, "reason": "demo"}
                ),
            )
        )
        checks.append(
            (
                f"{second.tenant} sends a reply (no mail:send scope)",
                "insufficient_scope (JSON-RPC -32003)",
                await b.error_code("mailbox", "send_reply", {"message_id": other_message, "body": "hi"}),
            )
        )
        replay = outcomes[0]
        original = next(m for m in first.inbox if m.id == replay.message)
        again = await a.call(
            "helpdesk",
            "create_ticket",
            {
                "customer_email": replay.sender,
                "subject": original.subject,
                "body": original.body,
                "source_message_id": replay.message,
            },
            key=_key(replay.tenant, replay.message, "create_ticket"),
        )
        checks.append(("replay a keyed create_ticket", f"same ticket {replay.ticket}", f"same ticket {again['id']}"))
        checks.append(
            (
                "reuse its key with other arguments",
                "idempotency_conflict",
                await a.error_code(
                    "helpdesk",
                    "create_ticket",
                    {"customer_email": replay.sender, "subject": "other", "body": "other"},
                    key=_key(replay.tenant, replay.message, "create_ticket"),
                ),
            )
        )
    _report(console, outcomes, checks, stats, home)
    return 0 if all(expected == got for _, expected, got in checks) else 1


def _report(
    console: Console, outcomes: list[Outcome], checks: list[tuple[str, str, str]], stats: Stats, home: Home
) -> None:
    table = Table(title="Inbox processed through the MCP boundary", title_justify="left")
    for column in ("tenant", "message", "customer", "top article", "ticket", "draft", "tool calls", "latency"):
        table.add_column(column, justify="right" if column in ("tool calls", "latency") else "left")
    for o in outcomes:
        table.add_row(
            o.tenant, o.message, o.customer, o.article, o.ticket, o.draft, str(o.calls), f"{o.latency_ms:.0f} ms"
        )
    console.print(table)
    lat = sorted(stats.latencies)
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else 0.0
    console.print(
        f"[bold]{len(outcomes)}[/] messages, [bold]{len(lat)}[/] MCP tool calls over HTTP; "
        f"per call p50 {statistics.median(lat) if lat else 0:.1f} ms, p95 {p95:.1f} ms"
    )
    checks_table = Table(title="The boundary holds", title_justify="left")
    for column in ("attempt", "expected", "got", ""):
        checks_table.add_column(column)
    for attempt, expected, got in checks:
        checks_table.add_row(attempt, expected, got, "[green]✓[/]" if expected == got else "[red]✗[/]")
    console.print(checks_table)


def run_demo(tenant_files: list[Path], workspace: Path | None, keep: bool, console: Console) -> int:
    from coordinator.cli import _serve
    from schemas import load_tenant_file

    tenants = [load_tenant_file(p) for p in tenant_files]
    if len(tenants) < 2:
        raise ConfigError("the demo needs at least two tenant files", field="tenants")
    path = workspace or Path(tempfile.mkdtemp(prefix="deskhand-demo-"))
    defaults = Home.defaults(path)
    home = Home(
        defaults.path,
        defaults.issuer,
        {
            name: ServerConfig(name, f"http://127.0.0.1:{free_port()}/mcp", cfg.db)
            for name, cfg in defaults.servers.items()
        },
    )
    home.save()
    DevKeys.create(home.keys_dir)
    console.print(f"[bold]deskhand demo[/]: workspace {home.path}")
    _serve.prepare(home, tenants)
    console.print(f"  loaded tenants {', '.join(t.tenant for t in tenants)} into 4 server databases")
    try:
        with running_servers(home) as servers:
            for s in servers.values():
                console.print(f"  {s.name:<9} pid {s.process.pid:<7} {s.url}", highlight=False)
            code = anyio.run(_run, home, tenants, console)
        console.print("servers stopped")
    finally:
        if keep or workspace is not None:
            console.print(f"workspace kept: {home.path} (logs/, data/ with each server's audit_log, keys/)")
        else:
            shutil.rmtree(path, ignore_errors=True)
    return code
