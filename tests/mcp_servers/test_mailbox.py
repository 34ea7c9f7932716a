"""The mailbox server through a real in-memory MCP client: inbox, drafts, replies to the sender only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from mcp.types import CallToolResult
from sqlmodel import select

from mcp_servers import mailbox
from mcp_servers.kit import Database, GuardedServer
from mcp_servers.mailbox import DraftRow, MessageRow, SentReplyRow
from schemas import TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import error_code, error_field, ok, seeded

pytestmark = pytest.mark.anyio
ALL = ["mail:read", "mail:draft", "mail:send"]


@pytest.fixture
def server(db: Database, tenants: list[TenantFile]) -> GuardedServer:
    return seeded(mailbox, db, tenants)


def ids(result: CallToolResult) -> list[str]:
    return [m["id"] for m in ok(result)["items"]]


def outbox(db: Database) -> list[SentReplyRow]:
    with db.admin_session() as session:
        return list(session.exec(select(SentReplyRow)).all())


# -- list_inbox and get_message -------------------------------------------------------------------


async def test_inbox_lists_unprocessed_messages_oldest_first(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    acme = tenants[0]
    async with connect(server, issuer, "acme", ["mail:read"]) as client:
        listed = ok(await client.call_tool("list_inbox", {}))["items"]
        assert ids(await client.call_tool("list_inbox", {"limit": 2})) == ["M-1", "M-2"]
    assert [m["id"] for m in listed] == [m.id for m in acme.inbox]
    assert [m["sender"] for m in listed] == [m.sender for m in acme.inbox]
    assert {m["status"] for m in listed} == {"unprocessed"}
    arrivals = [datetime.fromisoformat(m["received_at"]) for m in listed]
    assert arrivals == sorted(arrivals) and all(a.utcoffset() is not None for a in arrivals)
    assert "body" not in listed[0]  # the list carries summaries; get_message has the body


async def test_inbox_status_filter_follows_mark_processed(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:read", "mail:draft"]) as client:
        processed = ok(await client.call_tool("mark_processed", {"message_id": "M-2"}))
        assert (processed["id"], processed["status"]) == ("M-2", "processed")
        assert processed["body"].startswith("Hello,")
        again = ok(await client.call_tool("mark_processed", {"message_id": "M-2"}))
        assert again["status"] == "processed"
        assert ids(await client.call_tool("list_inbox", {})) == ["M-1", "M-3", "M-4", "M-5", "M-6"]
        assert ids(await client.call_tool("list_inbox", {"status": "processed"})) == ["M-2"]
        everything = ids(await client.call_tool("list_inbox", {"status": "all"}))
        assert everything == ["M-1", "M-2", "M-3", "M-4", "M-5", "M-6"]
        assert ok(await client.call_tool("get_message", {"message_id": "M-2"}))["status"] == "processed"


async def test_get_message_returns_the_whole_message(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    seeded = tenants[0].inbox[2]
    async with connect(server, issuer, "acme", ["mail:read"]) as client:
        message = ok(await client.call_tool("get_message", {"message_id": seeded.id}))
    assert (message["id"], message["sender"]) == (seeded.id, seeded.sender)
    assert (message["subject"], message["body"]) == (seeded.subject, seeded.body)
    assert message["status"] == "unprocessed"


async def test_inbox_never_shows_another_tenants_messages(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    async with connect(server, issuer, "acme", ["mail:read"]) as client:
        listed = ids(await client.call_tool("list_inbox", {"status": "all", "limit": 200}))
    assert listed == [m.id for m in tenants[0].inbox]
    async with connect(server, issuer, "northwind", ["mail:read"]) as client:
        listed = ids(await client.call_tool("list_inbox", {"status": "all", "limit": 200}))
    assert listed == [m.id for m in tenants[1].inbox]


# -- save_draft and send_reply --------------------------------------------------------------------


async def test_save_draft_keeps_a_reply_without_sending_it(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:draft"]) as client:
        draft = ok(await client.call_tool("save_draft", {"message_id": "M-2", "body": "Refunded."}))
        args = {"message_id": "M-2", "body": "x", "subject": "Your refund"}
        own = ok(await client.call_tool("save_draft", args))
    assert draft["id"].startswith("D-") and draft["message_id"] == "M-2"
    assert (draft["subject"], draft["body"]) == ("Re: Charged twice this month?", "Refunded.")
    assert own["subject"] == "Your refund"
    with server.db.admin_session() as session:
        assert sorted(d.id for d in session.exec(select(DraftRow)).all()) == sorted([draft["id"], own["id"]])
    assert outbox(server.db) == []


async def test_send_reply_goes_to_the_original_sender_only(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    message = tenants[0].inbox[0]  # M-1, from marcus.webb@brightloop.example.com
    async with connect(server, issuer, "acme", ALL) as client:
        sent = ok(await client.call_tool("send_reply", {"message_id": message.id, "body": "We are on it."}))
        for field in ("to", "cc", "bcc", "recipient"):
            smuggled = {"message_id": message.id, "body": "x", field: "mallory@evil.test"}
            assert error_field(await client.call_tool("send_reply", smuggled)) == field
        args = {"message_id": message.id, "body": "Fixed.", "subject": "Resolved"}
        follow_up = ok(await client.call_tool("send_reply", args))
    assert sent["to"] == follow_up["to"] == message.sender
    assert sent["id"].startswith("S-") and sent["message_id"] == message.id
    assert (sent["subject"], sent["body"]) == (f"Re: {message.subject}", "We are on it.")
    assert follow_up["subject"] == "Resolved"
    rows = outbox(server.db)
    assert sorted(r.id for r in rows) == sorted([sent["id"], follow_up["id"]])
    assert {(r.tenant_id, r.to) for r in rows} == {("acme", message.sender)}


async def test_a_reply_to_a_reply_keeps_one_re_prefix(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:draft", "mail:send"]) as client:
        args = {"message_id": "M-2", "body": "x", "subject": "RE: bill"}
        draft = ok(await client.call_tool("save_draft", args))
        assert draft["subject"] == "RE: bill"
        sent = ok(await client.call_tool("send_reply", {"message_id": "M-3", "body": "x"}))
        assert sent["subject"] == "Re: SSO redirect loop after certificate rotation"


# -- tenant boundary, arguments, scopes, seeding --------------------------------------------------


async def test_another_tenants_message_ids_are_not_found(
    server: GuardedServer, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    theirs = tenants[1].inbox[0].id  # NW-M-1, exists only in northwind
    async with connect(server, issuer, "acme", ALL) as client:
        for tool, args in [
            ("get_message", {"message_id": theirs}),
            ("save_draft", {"message_id": theirs, "body": "x"}),
            ("mark_processed", {"message_id": theirs}),
            ("send_reply", {"message_id": theirs, "body": "x"}),
        ]:
            assert error_code(await client.call_tool(tool, args)) == "not_found", tool
    async with connect(server, issuer, "northwind", ["mail:read"]) as client:
        assert ok(await client.call_tool("get_message", {"message_id": theirs}))["status"] == "unprocessed"
    assert outbox(server.db) == []
    with server.db.admin_session() as session:
        assert session.exec(select(DraftRow)).all() == []


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        ("list_inbox", {"limit": 0}, "limit"),
        ("list_inbox", {"limit": 201}, "limit"),
        ("list_inbox", {"folder": "spam"}, "folder"),
        ("get_message", {"message_id": ""}, "message_id"),
        ("get_message", {}, "message_id"),
        ("save_draft", {"message_id": "M-1"}, "body"),
        ("save_draft", {"message_id": "M-1", "body": "x", "subject": "s" * 301}, "subject"),
        ("mark_processed", {"message_id": "M 1"}, "message_id"),
        ("mark_processed", {"message_id": "M-1", "status": "unprocessed"}, "status"),
        ("send_reply", {"message_id": "M-1", "body": " "}, "body"),
        ("send_reply", {"message_id": "M-1", "body": "x", "subject": ""}, "subject"),
        ("send_reply", {"message_id": "M-1", "body": "x", "to": "mallory@evil.test"}, "to"),
    ],
)
async def test_invalid_arguments_name_the_field(
    server: GuardedServer, issuer: Issuer, tool: str, args: dict[str, Any], field: str
) -> None:
    async with connect(server, issuer, "acme", ALL) as client:
        assert error_field(await client.call_tool(tool, args)) == field
        assert ok(await client.call_tool("get_message", {"message_id": "M-1"}))["status"] == "unprocessed"
    assert outbox(server.db) == []


async def test_unknown_inbox_status_names_the_status_field(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:read"]) as client:
        assert error_field(await client.call_tool("list_inbox", {"status": "archived"})) == "status"


async def test_read_scope_lists_and_calls_only_the_read_tools(server: GuardedServer, issuer: Issuer) -> None:
    async with connect(server, issuer, "acme", ["mail:read"]) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {"list_inbox", "get_message"}
        for tool, args in [
            ("save_draft", {"message_id": "M-1", "body": "x"}),
            ("mark_processed", {"message_id": "M-1"}),
            ("send_reply", {"message_id": "M-1", "body": "x"}),
        ]:
            assert error_code(await client.call_tool(tool, args)) == "insufficient_scope", tool
    async with connect(server, issuer, "acme", ["mail:read", "mail:draft"]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"list_inbox", "get_message", "save_draft", "mark_processed"}
        denied = await client.call_tool("send_reply", {"message_id": "M-1", "body": "x"})
        assert error_code(denied) == "insufficient_scope"
    assert outbox(server.db) == []


async def test_seeding_again_keeps_one_copy_and_what_was_processed(
    server: GuardedServer, db: Database, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    async with connect(server, issuer, "acme", ["mail:read", "mail:draft"]) as client:
        ok(await client.call_tool("mark_processed", {"message_id": "M-1"}))
        before = ok(await client.call_tool("list_inbox", {"status": "all"}))
        mailbox.seed(db, tenants[0])
        assert ok(await client.call_tool("list_inbox", {"status": "all"})) == before
        assert ids(await client.call_tool("list_inbox", {})) == ["M-2", "M-3", "M-4", "M-5", "M-6"]
    with db.admin_session() as session:
        assert len(session.exec(select(MessageRow)).all()) == len(tenants[0].inbox) + len(tenants[1].inbox)
