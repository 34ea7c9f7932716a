"""The guard on every transport: scopes, rate limits, size limits, the tenant never an argument, audit."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR
from sqlmodel import select

from mcp_servers import crm
from mcp_servers.kit import AuditRecord, BoundarySettings, Database, TenantSession
from schemas import TenantFile
from schemas.tools import ALL_TOOLS
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import seeded

pytestmark = pytest.mark.anyio


def test_no_tool_takes_the_tenant_as_an_argument() -> None:
    for spec in ALL_TOOLS:
        fields = set(spec.input.model_json_schema().get("properties", {}))
        assert not {f for f in fields if "tenant" in f}, spec.qualified_name


async def test_a_tenant_argument_is_refused_not_obeyed(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants)
    email = tenants[1].customers[0].email
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        result = await client.call_tool("find_customer", {"email": email, "tenant": "northwind"})
    assert result.is_error and result.structured_content is not None
    assert result.structured_content["code"] == "invalid_argument"
    assert result.structured_content["field"] == "tenant"


async def test_tools_list_shows_only_permitted_tools(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants)
    async with connect(server, issuer, "acme", ["crm:credit"]) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == ["issue_credit"]
    [tool] = tools
    assert tool.meta is not None and tool.meta["deskhand/approval"] is True
    assert tool.annotations is not None and tool.annotations.destructive_hint is True
    assert tool.output_schema is not None and "amount_cents" in tool.output_schema["properties"]


async def test_rate_limit_is_a_clear_error_with_retry_after(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants, BoundarySettings(rate_per_second=0.001, burst=2))
    args = {"email": "nobody@example.com"}
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        assert not (await client.call_tool("find_customer", args)).is_error
        assert not (await client.call_tool("find_customer", args)).is_error
        limited = await client.call_tool("find_customer", args)
    assert limited.is_error and limited.structured_content is not None
    assert limited.structured_content["code"] == "rate_limited"
    assert limited.structured_content["retry_after"] > 0
    async with connect(server, issuer, "northwind", ["crm:read"]) as client:
        assert not (await client.call_tool("find_customer", args)).is_error  # each tenant has its own budget


async def test_oversized_arguments_are_refused_off_http(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants, BoundarySettings(max_request_bytes=1024))
    async with connect(server, issuer, "acme", ["crm:write"]) as client:
        result = await client.call_tool("log_interaction", {"account_id": "A-1", "summary": "y" * 1500})
    assert result.is_error and result.structured_content is not None
    assert result.structured_content["code"] == "request_too_large"


async def test_every_call_allowed_or_denied_is_audited(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, sqlite_db, tenants)
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        await client.call_tool("get_account", {"account_id": "A-1"})
        await client.call_tool("get_account", {"account_id": "NW-A-1"})
        await client.call_tool("issue_credit", {"account_id": "A-1", "amount_cents": 1, "reason": "x"})
    with sqlite_db.admin_session() as session:
        rows = session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all()  # type: ignore[arg-type]
    assert [(r.tenant_id, r.subject, r.tool, r.outcome, r.code) for r in rows] == [
        ("acme", "tester", "get_account", "allowed", None),
        ("acme", "tester", "get_account", "failed", "not_found"),
        ("acme", "tester", "issue_credit", "denied", "insufficient_scope"),
    ]
    assert all(len(r.args_hash) == 64 and r.latency_ms >= 0 for r in rows)
    assert rows[0].args_hash != rows[1].args_hash


async def test_expired_static_credential_stops_working(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    from mcp import Client

    from mcp_servers.kit import StaticCredential

    server = seeded(crm, sqlite_db, tenants)
    credential = await StaticCredential.verify(issuer.verifier(), issuer.token("acme", ["crm:read"]))
    credential.expires_at = 0  # as if the clock had run past it
    async with Client(server.mcp_server(credential=credential)) as client:
        result = await client.call_tool("find_customer", {"email": "a@b.test"})
    assert result.is_error and result.structured_content is not None
    assert result.structured_content["code"] == "unauthenticated"


async def test_a_read_tool_that_changes_rows_fails_and_stores_nothing(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    """Reads are not committed (a read costs no commit), so a handler declared a read that adds rows is
    a developer's mistake: it fails loudly instead of losing the write silently."""
    from datetime import UTC, datetime

    from mcp import Client

    from mcp_servers.crm import InteractionRow
    from mcp_servers.kit import GuardedServer
    from schemas.tools.crm import GET_ACCOUNT, Account, GetAccountIn

    server = GuardedServer("crm", db=sqlite_db, tables=[InteractionRow])
    server.create_tables()

    def sneaky(args: GetAccountIn, session: TenantSession) -> Account:
        row = InteractionRow(
            id="I-1", account_id=args.account_id, channel="x", summary="y", created_at=datetime.now(UTC)
        )
        session.add(row)
        return Account(id=args.account_id, name="n", plan="pro", status="active", credit_balance_cents=0)

    server.add_tool(GET_ACCOUNT, sneaky)
    mcp = await server.in_memory(issuer.verifier(), issuer.token("acme", ["crm:read"]))
    async with Client(mcp) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("get_account", {"account_id": "A-1"})
    assert raised.value.error.code == INTERNAL_ERROR
    with sqlite_db.admin_session() as session:
        assert session.exec(select(InteractionRow)).all() == []


async def test_a_keyed_write_that_collides_with_stored_rows_is_a_conflict_and_stores_nothing(
    db: Database, issuer: Issuer
) -> None:
    """A handler whose row clashes with one stored meanwhile (here: a fixed id) gets a clear `conflict`,
    keyed or not, and neither its row nor an idempotency record is kept: the same key may try again."""
    from datetime import UTC, datetime

    from mcp import Client

    from mcp_servers.crm import InteractionRow
    from mcp_servers.kit import GuardedServer, IdempotencyRecord
    from schemas import META_IDEMPOTENCY_KEY
    from schemas.tools.crm import LOG_INTERACTION, Interaction, LogInteractionIn

    server = GuardedServer("crm", db=db, tables=[InteractionRow])
    server.create_tables()

    def fixed_id(args: LogInteractionIn, session: TenantSession) -> Interaction:
        row = InteractionRow(
            id="I-1",
            account_id=args.account_id,
            channel=args.channel,
            summary=args.summary,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        return Interaction.model_validate(row, from_attributes=True)

    server.add_tool(LOG_INTERACTION, fixed_id)
    mcp = await server.in_memory(issuer.verifier(), issuer.token("acme", ["crm:write"]))
    args = {"account_id": "A-1", "channel": "email", "summary": "first"}
    async with Client(mcp) as client:
        first = await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: "k-1"})
        assert not first.is_error
        for key in ("k-2", None):
            again = await client.call_tool(
                "log_interaction", {**args, "summary": "second"}, meta={META_IDEMPOTENCY_KEY: key} if key else None
            )
            assert again.is_error and again.structured_content is not None
            assert again.structured_content["code"] == "conflict"
    with db.admin_session() as session:
        assert [r.summary for r in session.exec(select(InteractionRow)).all()] == ["first"]
        assert [r.id for r in session.exec(select(IdempotencyRecord)).all()] == ["k-1"]


async def test_a_blocking_handler_waits_in_a_thread_and_other_calls_go_on(sqlite_db: Database, issuer: Issuer) -> None:
    """On SQLite handlers run on the event loop; one registered `blocking=True` runs in a worker thread, so
    while it waits, another call is served. (On the loop, the waiting handler would stall the call that
    releases it, and time out.)"""
    import threading

    import anyio

    from mcp_servers.kit import GuardedServer
    from schemas import Input, Output, ToolSpec

    class Nothing(Input):
        pass

    class Done(Output):
        ok: bool

    def spec(name: str) -> ToolSpec:
        return ToolSpec(
            server="crm",
            name=name,
            title=name,
            description=name,
            scope="crm:read",
            side_effect="read",
            input=Nothing,
            output=Done,
        )

    started, released = threading.Event(), threading.Event()
    server = GuardedServer("orders", db=sqlite_db)

    @server.tool(spec("wait_for_release"), blocking=True)
    def wait_for_release(args: Nothing, db: TenantSession) -> Done:
        started.set()
        return Done(ok=released.wait(timeout=5))

    @server.tool(spec("release"))
    def release(args: Nothing, db: TenantSession) -> Done:
        released.set()
        return Done(ok=True)

    server.create_tables()
    answers: dict[str, object] = {}
    async with connect(server, issuer, "acme", ["crm:read"]) as client:

        async def waiting() -> None:
            answers["wait"] = (await client.call_tool("wait_for_release", {})).structured_content

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiting)
            assert await anyio.to_thread.run_sync(started.wait, 5)
            answers["release"] = (await client.call_tool("release", {})).structured_content
    assert answers == {"wait": {"ok": True}, "release": {"ok": True}}
