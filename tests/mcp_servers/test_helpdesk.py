"""The helpdesk server through a real in-memory MCP client: every tool, every tenant boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from mcp.types import CallToolResult
from sqlmodel import col, select

from mcp_servers import helpdesk
from mcp_servers.helpdesk import TicketRow
from mcp_servers.kit import Database, GuardedServer
from schemas import META_IDEMPOTENCY_KEY, TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import error_code, error_field, ok, seeded

pytestmark = pytest.mark.anyio
READ, WRITE = "helpdesk:read", "helpdesk:write"
BOTH = [READ, WRITE]
NEW = {
    "customer_email": "sofia@tinyroast.test",
    "subject": "Seat count is wrong",
    "body": "We have 3 seats, not 5.",
}


@pytest.fixture
def server(db: Database, tenants: list[TenantFile]) -> GuardedServer:
    return seeded(helpdesk, db, tenants)


def at(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    assert moment.utcoffset() is not None, f"{timestamp} has no time zone"
    return moment


def ids(result: CallToolResult) -> list[str]:
    return [t["id"] for t in ok(result)["items"]]


async def test_get_ticket_returns_a_seeded_ticket_in_its_categorys_queue(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    seeded = tenants[0].tickets[1]
    async with connect(server, issuer, "acme", [READ]) as client:
        ticket = ok(await client.call_tool("get_ticket", {"ticket_id": seeded.id}))
    assert (ticket["id"], ticket["customer_email"]) == (seeded.id, seeded.customer)
    assert ticket["subject"] == seeded.subject
    assert (ticket["status"], ticket["category"], ticket["priority"]) == ("solved", "data_integrations", "P2")
    assert ticket["queue"] == "integrations"
    assert ticket["source_message_id"] is None
    assert at(ticket["created_at"]) == at(ticket["updated_at"])


async def test_search_needs_every_word_in_subject_or_body_case_insensitively(
    server: GuardedServer, issuer: Issuer
) -> None:
    async with connect(server, issuer, "acme", [READ]) as client:
        # "postgres" is in T-1002's subject, "DBA" only in its body.
        assert ids(await client.call_tool("search_tickets", {"query": "POSTGRES dba"})) == ["T-1002"]
        assert ids(await client.call_tool("search_tickets", {"query": "invoice  Company"})) == ["T-1001"]
        assert ids(await client.call_tool("search_tickets", {"query": "invoice slack"})) == []
        # Words, not the punctuation around them; a LIKE wildcard in a query is a plain character.
        quoted = {"query": "'password authentication'?"}
        assert ids(await client.call_tool("search_tickets", quoted)) == ["T-1002"]
        assert ids(await client.call_tool("search_tickets", {"query": "a_c"})) == []


async def test_search_filters_by_customer_and_status_newest_first_within_the_limit(
    server: GuardedServer, issuer: Issuer
) -> None:
    async with connect(server, issuer, "acme", [READ]) as client:
        assert ids(await client.call_tool("search_tickets", {})) == ["T-1004", "T-1003", "T-1002", "T-1001"]
        assert ids(await client.call_tool("search_tickets", {"limit": 2})) == ["T-1004", "T-1003"]
        assert ids(await client.call_tool("search_tickets", {"status": "solved"})) == ["T-1002", "T-1001"]
        by_customer = {"customer_email": "Sofia@TinyRoast.test", "status": "solved"}
        assert ids(await client.call_tool("search_tickets", by_customer)) == ["T-1001"]
        assert ids(await client.call_tool("search_tickets", {"query": "invoice", "status": "open"})) == []


async def test_search_never_returns_another_tenants_tickets(server: GuardedServer, issuer: Issuer) -> None:
    # NW-T-2004 ("Invoice needed ...") matches, but belongs to northwind.
    async with connect(server, issuer, "acme", [READ]) as client:
        assert ids(await client.call_tool("search_tickets", {"query": "invoice"})) == ["T-1001"]
        everything = {"customer_email": "ingrid@alpenglow-guiding.test", "limit": 100}
        assert ids(await client.call_tool("search_tickets", everything)) == []
    async with connect(server, issuer, "northwind", [READ]) as client:
        assert ids(await client.call_tool("search_tickets", {"query": "invoice"})) == ["NW-T-2004"]


async def test_create_ticket_opens_a_new_ticket_that_get_and_search_find(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        args = {**NEW, "priority": "P3", "source_message_id": "M-2"}
        created = ok(await client.call_tool("create_ticket", args))
        assert created["id"].startswith("T-") and len(created["id"]) == len("T-") + 12
        assert [created[k] for k in ("status", "priority", "category", "queue")] == ["new", "P3", None, None]
        assert created["source_message_id"] == "M-2"
        assert at(created["created_at"]) == at(created["updated_at"])
        assert ok(await client.call_tool("get_ticket", {"ticket_id": created["id"]})) == created
        assert ids(await client.call_tool("search_tickets", {"query": "seats"}))[0] == created["id"]


async def test_create_ticket_twice_for_one_message_is_a_conflict(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        ok(await client.call_tool("create_ticket", {**NEW, "source_message_id": "M-2"}))
        again = await client.call_tool("create_ticket", {**NEW, "source_message_id": "M-2"})
        assert error_code(again) == "conflict"
        assert again.structured_content is not None
        assert again.structured_content["field"] == "source_message_id"
        assert len(ids(await client.call_tool("search_tickets", {"query": "seats"}))) == 1
        by_message = ids(await client.call_tool("search_tickets", {"source_message_id": "M-2"}))
        assert by_message == ids(await client.call_tool("search_tickets", {"query": "seats"}))
    # The same message id in another tenant is another message.
    async with connect(server, issuer, "northwind", BOTH) as client:
        ok(await client.call_tool("create_ticket", {**NEW, "source_message_id": "M-2"}))


async def test_create_ticket_with_a_repeated_idempotency_key_writes_once(server: GuardedServer, issuer: Issuer) -> None:
    meta = {META_IDEMPOTENCY_KEY: "run-7:intake:create_ticket"}
    async with connect(server, issuer, "acme", BOTH) as client:
        first = ok(await client.call_tool("create_ticket", NEW, meta=meta))
        again = ok(await client.call_tool("create_ticket", NEW, meta=meta))
        assert again == first
        assert ids(await client.call_tool("search_tickets", {"query": "seats"})) == [first["id"]]


async def test_update_and_route_change_the_ticket_and_its_update_time(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        before = ok(await client.call_tool("get_ticket", {"ticket_id": "T-1004"}))
        change = {"ticket_id": "T-1004", "priority": "P1", "status": "pending"}
        updated = ok(await client.call_tool("update_ticket", change))
        assert (updated["priority"], updated["status"], updated["category"]) == ("P1", "pending", "legal")
        assert at(updated["updated_at"]) > at(before["updated_at"])
        assert at(updated["created_at"]) == at(before["created_at"])
        routed = ok(await client.call_tool("route_ticket", {"ticket_id": "T-1004", "queue": "security"}))
        assert (routed["queue"], routed["priority"]) == ("security", "P1")
        change = {"ticket_id": "T-1004", "category": "security"}
        recategorised = ok(await client.call_tool("update_ticket", change))
        assert (recategorised["category"], recategorised["queue"]) == ("security", "security")
        assert recategorised["status"] == "pending"
        assert ok(await client.call_tool("get_ticket", {"ticket_id": "T-1004"})) == recategorised


async def test_internal_note_is_written_by_the_callers_subject(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", [WRITE]) as client:
        args = {"ticket_id": "T-1002", "body": "  Checked the sync logs.  "}
        note = ok(await client.call_tool("add_internal_note", args))
    assert note["id"].startswith("N-") and note["ticket_id"] == "T-1002"
    assert note["body"] == "Checked the sync logs."
    assert note["author"] == "tester"  # the subject of the token conftest mints, never an argument


async def test_attach_draft_defaults_to_a_reply_subject(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        args = {"ticket_id": "T-1001", "body": "Here is the invoice."}
        draft = ok(await client.call_tool("attach_draft", args))
        assert draft["id"].startswith("D-") and draft["ticket_id"] == "T-1001"
        assert draft["subject"] == "Re: Invoice shows the wrong company name"
        assert draft["body"] == "Here is the invoice."
        args = {"ticket_id": "T-1001", "body": "x", "subject": "Your invoice"}
        own = ok(await client.call_tool("attach_draft", args))
        assert own["subject"] == "Your invoice"
        ticket = ok(await client.call_tool("get_ticket", {"ticket_id": "T-1001"}))
        assert at(ticket["updated_at"]) == at(own["created_at"])


async def test_another_tenants_ticket_ids_are_not_found(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    theirs = tenants[1].tickets[3].id  # NW-T-2004, open, exists only in northwind
    async with connect(server, issuer, "acme", BOTH) as client:
        for tool, args in [
            ("get_ticket", {"ticket_id": theirs}),
            ("update_ticket", {"ticket_id": theirs, "status": "closed"}),
            ("route_ticket", {"ticket_id": theirs, "queue": "billing"}),
            ("add_internal_note", {"ticket_id": theirs, "body": "x"}),
            ("attach_draft", {"ticket_id": theirs, "body": "x"}),
        ]:
            assert error_code(await client.call_tool(tool, args)) == "not_found", tool
    async with connect(server, issuer, "northwind", [READ]) as client:
        ticket = ok(await client.call_tool("get_ticket", {"ticket_id": theirs}))
    assert (ticket["status"], ticket["queue"]) == ("open", "payments")
    assert at(ticket["updated_at"]) == at(ticket["created_at"])
    with server.db.admin_session() as session:
        assert session.exec(select(helpdesk.NoteRow)).all() == []
        assert session.exec(select(helpdesk.DraftRow)).all() == []


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("get_ticket", {"ticket_id": "T 1001"}, "ticket_id"),
        ("get_ticket", {"ticket_id": "T-1001", "tenant": "northwind"}, "tenant"),
        ("search_tickets", {"limit": 0}, "limit"),
        ("search_tickets", {"status": "archived"}, "status"),
        ("search_tickets", {"customer_email": "not-an-email"}, "customer_email"),
        ("search_tickets", {"query": "?!"}, "query"),
        ("create_ticket", {**NEW, "customer_email": "sofia"}, "customer_email"),
        ("create_ticket", {**NEW, "priority": "P9"}, "priority"),
        ("create_ticket", {**NEW, "body": "   "}, "body"),
        ("update_ticket", {"ticket_id": "T-1001", "status": "done"}, "status"),
        ("update_ticket", {"ticket_id": "T-1001", "category": "Billing Stuff"}, "category"),
        ("route_ticket", {"ticket_id": "T-1001", "queue": "Tech Support"}, "queue"),
        ("route_ticket", {"ticket_id": "T-1001"}, "queue"),
        ("add_internal_note", {"ticket_id": "T-1001", "body": ""}, "body"),
        ("add_internal_note", {"ticket_id": "T-1001", "body": "x", "author": "someone else"}, "author"),
        ("attach_draft", {"ticket_id": "T-1001", "body": "x", "subject": "s" * 301}, "subject"),
        ("attach_draft", {"body": "x"}, "ticket_id"),
    ],
)
async def test_invalid_arguments_name_the_field(
    server: GuardedServer, issuer: Issuer, tool: str, args: dict[str, Any], field: str
) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        assert error_field(await client.call_tool(tool, args)) == field
        assert ok(await client.call_tool("get_ticket", {"ticket_id": "T-1001"}))["status"] == "solved"


async def test_update_with_nothing_to_change_is_invalid(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", BOTH) as client:
        result = await client.call_tool("update_ticket", {"ticket_id": "T-1001"})
        assert error_code(result) == "invalid_argument"


async def test_read_scope_lists_and_calls_only_the_read_tools(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", [READ]) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"get_ticket", "search_tickets"}
        denied = await client.call_tool("create_ticket", NEW)
        assert error_code(denied) == "insufficient_scope"
    async with connect(server, issuer, "acme", BOTH) as client:
        assert len((await client.list_tools()).tools) == 7


async def test_seeding_twice_keeps_one_copy_and_the_ticket_times(
    server: GuardedServer, db: Database, tenants: list[TenantFile]
) -> None:
    def rows() -> list[TicketRow]:
        with db.admin_session() as session:
            query = select(TicketRow).order_by(col(TicketRow.tenant_id), col(TicketRow.id))
            return list(session.exec(query).all())

    first = rows()
    helpdesk.seed(db, tenants[0])
    again = rows()
    assert len(again) == len(tenants[0].tickets) + len(tenants[1].tickets)
    times = [(r.id, r.created_at, r.updated_at) for r in first]
    assert [(r.id, r.created_at, r.updated_at) for r in again] == times
