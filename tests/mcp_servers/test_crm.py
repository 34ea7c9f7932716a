"""The CRM server through a real in-memory MCP client: every tool, every tenant boundary."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import CallToolResult

from mcp_servers import crm
from mcp_servers.kit import Database, GuardedServer
from schemas import TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import error_code, ok, seeded

pytestmark = pytest.mark.anyio
ALL = ["crm:read", "crm:write", "crm:credit"]


@pytest.fixture
def server(db: Database, tenants: list[TenantFile]) -> GuardedServer:
    return seeded(crm, db, tenants)


async def test_find_customer_by_email_of_own_tenant(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    acme, northwind = tenants
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        found = ok(await client.call_tool("find_customer", {"email": acme.customers[0].email.upper()}))
        assert found["customer"]["id"] == acme.customers[0].id
        other = ok(await client.call_tool("find_customer", {"email": northwind.customers[0].email}))
        assert other["customer"] is None


async def test_invalid_email_is_a_validation_error_naming_the_field(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        result = await client.call_tool("find_customer", {"email": "not-an-email"})
        assert error_code(result) == "invalid_argument"
        assert result.structured_content is not None and result.structured_content["field"] == "email"


async def test_get_account_and_list_interactions(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    account = tenants[0].customers[0].account
    async with connect(server, issuer, "acme", ["crm:read", "crm:write"]) as client:
        assert ok(await client.call_tool("get_account", {"account_id": account}))["id"] == account
        ok(await client.call_tool("log_interaction", {"account_id": account, "summary": "Answered a billing question"}))
        items = ok(await client.call_tool("list_interactions", {"account_id": account}))["items"]
        assert [i["summary"] for i in items] == ["Answered a billing question"]


async def test_another_tenants_ids_are_not_found(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    northwind = tenants[1]
    account, customer = northwind.customers[0].account, northwind.customers[0].id
    async with connect(server, issuer, "acme", ALL) as client:
        for tool, args in [
            ("get_account", {"account_id": account}),
            ("list_interactions", {"account_id": account}),
            ("log_interaction", {"account_id": account, "summary": "x"}),
            ("update_contact", {"customer_id": customer, "name": "Mallory"}),
            ("issue_credit", {"account_id": account, "amount_cents": 100, "reason": "x"}),
        ]:
            assert error_code(await client.call_tool(tool, args)) == "not_found", tool
    async with connect(server, issuer, "northwind", ["crm:read"]) as client:
        found = ok(await client.call_tool("find_customer", {"email": northwind.customers[0].email}))
        assert found["customer"]["name"] == northwind.customers[0].name
        assert ok(await client.call_tool("get_account", {"account_id": account}))["credit_balance_cents"] == 0


async def test_update_contact_and_issue_credit(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    customer = tenants[0].customers[1]
    async with connect(server, issuer, "acme", ALL) as client:
        updated = ok(await client.call_tool("update_contact", {"customer_id": customer.id, "phone": "+1 555 0100"}))
        assert updated["phone"] == "+1 555 0100" and updated["name"] == customer.name
        assert error_code(await client.call_tool("update_contact", {"customer_id": customer.id})) == "invalid_argument"
        credit = ok(
            await client.call_tool(
                "issue_credit", {"account_id": customer.account, "amount_cents": 1500, "reason": "outage"}
            )
        )
        assert credit["amount_cents"] == 1500
        account = ok(await client.call_tool("get_account", {"account_id": customer.account}))
        assert account["credit_balance_cents"] == 1500
        bad = await client.call_tool(
            "issue_credit", {"account_id": customer.account, "amount_cents": -5, "reason": "x"}
        )
        assert error_code(bad) == "invalid_argument"
        assert bad.structured_content is not None and bad.structured_content["field"] == "amount_cents"


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("get_account", {"account_id": ""}, "account_id"),
        ("get_account", {}, "account_id"),
        ("list_interactions", {"account_id": "A-1", "limit": 0}, "limit"),
        ("list_interactions", {"account_id": "A-1", "limit": "many"}, "limit"),
        ("log_interaction", {"account_id": "A-1", "summary": "x", "channel": "pigeon"}, "channel"),
        ("log_interaction", {"account_id": "A-1"}, "summary"),
        ("update_contact", {"customer_id": "C-101", "name": "x" * 301}, "name"),
        ("issue_credit", {"account_id": "A-1", "amount_cents": 100_001, "reason": "x"}, "amount_cents"),
        ("issue_credit", {"account_id": "A-1", "amount_cents": 5}, "reason"),
    ],
)
async def test_invalid_arguments_name_the_field_and_write_nothing(
    server: GuardedServer, issuer: Issuer, tool: str, args: dict[str, Any], field: str
) -> None:
    async with connect(server, issuer, "acme", ALL) as client:
        result = await client.call_tool(tool, args)
        assert error_code(result) == "invalid_argument"
        assert result.structured_content is not None and result.structured_content["field"] == field
        account = ok(await client.call_tool("get_account", {"account_id": "A-1"}))
        assert account["credit_balance_cents"] == 0
        assert ok(await client.call_tool("list_interactions", {"account_id": "A-1"}))["items"] == []


async def test_concurrent_calls_with_one_key_write_once(server: GuardedServer, issuer: Issuer) -> None:
    import anyio

    args = {"account_id": "A-1", "amount_cents": 700, "reason": "goodwill"}
    meta = {"deskhand/idempotency-key": "run-7:crm_writer:issue_credit"}
    results: list[CallToolResult] = []
    async with connect(server, issuer, "acme", ALL) as client:

        async def call() -> None:
            results.append(await client.call_tool("issue_credit", args, meta=meta))  # type: ignore[arg-type]

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(call)
        account = ok(await client.call_tool("get_account", {"account_id": "A-1"}))
    credits = {ok(r)["id"] for r in results}
    assert len(credits) == 1
    assert account["credit_balance_cents"] == 700


async def test_concurrent_credits_without_keys_all_add_up(server: GuardedServer, issuer: Issuer) -> None:
    import anyio

    async with connect(server, issuer, "acme", ALL) as client:

        async def credit(amount: int) -> None:
            ok(await client.call_tool("issue_credit", {"account_id": "A-2", "amount_cents": amount, "reason": "r"}))

        async with anyio.create_task_group() as tg:
            for amount in range(1, 11):
                tg.start_soon(credit, amount)
        account = ok(await client.call_tool("get_account", {"account_id": "A-2"}))
    assert account["credit_balance_cents"] == sum(range(1, 11))
