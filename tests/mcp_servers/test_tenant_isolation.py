"""A token for one tenant never reaches another tenant's data, by any argument of any tool."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from mcp_servers import crm, helpdesk, knowledge, mailbox
from mcp_servers.kit import Database
from schemas import BUILTIN_SCOPES, META_IDEMPOTENCY_KEY, TenantFile
from schemas.tools import ALL_TOOLS
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import ok, seeded

pytestmark = pytest.mark.anyio
SERVERS = {"crm": crm, "helpdesk": helpdesk, "knowledge": knowledge, "mailbox": mailbox}


def other_tenant_values(victim: TenantFile) -> dict[str, list[Any]]:
    """For each argument name, the victim's values to try in it."""
    return {
        "account_id": [a.id for a in victim.all_accounts()],
        "customer_id": [c.id for c in victim.customers],
        "email": [c.email for c in victim.customers],
        "customer_email": [c.email for c in victim.customers[:2]],
        "ticket_id": [t.id for t in victim.tickets],
        "article_id": [a.id for a in victim.articles],
        "message_id": [m.id for m in victim.inbox],
        "query": [a.title for a in victim.articles[:3]] + [t.subject for t in victim.tickets[:2]],
        "category": [c.name for c in victim.policy.categories],
        "source_message_id": [m.id for m in victim.inbox[:1]],
    }


FILLER = {
    "summary": "note",
    "body": "hello there",
    "subject": "hello",
    "amount_cents": 100,
    "reason": "test",
    "queue": "general",
    "name": "Someone",
    "phone": "+1 555 0100",
    "status": "all",
}


def secrets_of(victim: TenantFile) -> list[str]:
    """Text only the victim's data contains (never passed as an argument here)."""
    return [
        victim.name,
        *(c.name for c in victim.customers),
        *(a.name for a in victim.all_accounts()),
        *(a.body[:60] for a in victim.articles),
        *(m.body[:60] for m in victim.inbox),
        *(t.body[:60] for t in victim.tickets),
        *(c.description for c in victim.policy.categories),
    ]


@pytest.mark.parametrize("server_name", list(SERVERS))
async def test_every_tool_with_every_other_tenant_id_reveals_nothing(
    server_name: str, db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    acme, victim = tenants
    server = seeded(SERVERS[server_name], db, tenants)
    values = other_tenant_values(victim)
    secrets = secrets_of(victim)
    assert not [s for s in secrets if s in json.dumps(acme.model_dump(mode="json"))], "fixtures must not overlap"
    calls = 0
    async with connect(server, issuer, "acme", BUILTIN_SCOPES) as client:
        for spec in (s for s in ALL_TOOLS if s.server == server_name):
            fields = spec.input.model_fields
            targets = [name for name in fields if name in values]
            base = {name: FILLER[name] for name in fields if name in FILLER and fields[name].is_required()}
            for combo in itertools.product(*(values[name] for name in targets)):
                args = {**base, **dict(zip(targets, combo, strict=True))}
                result = await client.call_tool(spec.name, args)
                calls += 1
                text = json.dumps(result.structured_content) + "".join(getattr(c, "text", "") for c in result.content)
                leaked = [s for s in secrets if s in text]
                assert not leaked, f"{spec.name}({args}) revealed {leaked}"
                if result.is_error:
                    assert result.structured_content is not None
                    assert result.structured_content["code"] in {"not_found", "invalid_argument", "conflict"}
    assert calls >= 5


async def test_one_idempotency_key_in_two_tenants_is_two_writes(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    """A key recorded for one tenant neither answers nor blocks the same key of another tenant."""
    acme, victim = tenants
    server = seeded(crm, db, tenants)
    meta = {META_IDEMPOTENCY_KEY: "run-1:crm_writer:log_interaction"}
    written = {}
    for tenant in (acme, victim):
        args = {"account_id": tenant.all_accounts()[0].id, "channel": "email", "summary": f"for {tenant.tenant}"}
        async with connect(server, issuer, tenant.tenant, BUILTIN_SCOPES) as client:
            written[tenant.tenant] = ok(await client.call_tool("log_interaction", args, meta=meta))
            assert ok(await client.call_tool("log_interaction", args, meta=meta)) == written[tenant.tenant]
            listed = ok(await client.call_tool("list_interactions", {"account_id": args["account_id"]}))
            assert [i["summary"] for i in listed["items"]].count(f"for {tenant.tenant}") == 1
    assert written[acme.tenant]["id"] != written[victim.tenant]["id"]
    assert written[victim.tenant]["summary"] == f"for {victim.tenant}"
