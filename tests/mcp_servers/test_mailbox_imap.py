"""The mailbox server with a tenant on IMAP and SMTP, through a real in-memory MCP client, against pymap (a process
on 127.0.0.1) and aiosmtpd: the same five tools, the mail in a real account."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from mcp_servers import mailbox
from mcp_servers.kit import Database, GuardedServer
from mcp_servers.mailbox import DraftRow, message_id_of
from schemas import ConfigError, ImapMailbox, TenantFile
from tests.conftest import Issuer, connect
from tests.mail_servers import ImapServer, SmtpSink, imap_server, smtp_sink
from tests.mcp_servers.helpers import error_code, ok

pytestmark = [pytest.mark.anyio, pytest.mark.slow]  # an IMAP server process per test
ALL = ["mail:read", "mail:draft", "mail:send"]
PASSWORD_ENV = "DESKHAND_TEST_ACME_MAIL_PASSWORD"


@pytest.fixture
def imap() -> Iterator[ImapServer]:
    with imap_server() as server:
        yield server


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with smtp_sink() as server:
        yield server


def account(imap: ImapServer, sink: SmtpSink, **changes: Any) -> ImapMailbox:
    fields: dict[str, Any] = {
        "backend": "imap",
        "user": imap.user,
        "password_env": PASSWORD_ENV,
        "imap_host": imap.host,
        "imap_port": imap.port,
        "imap_tls": "none",
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "smtp_tls": "none",
    }
    return ImapMailbox.model_validate({**fields, **changes})


def build(db: Database, tenants: list[TenantFile], config: ImapMailbox) -> GuardedServer:
    """The mailbox server with acme on `config` (northwind on the table), as `deskhand server serve` builds it."""
    server = mailbox.build_server(db, None, mailbox.open_backends({"acme": config}))
    server.create_tables()
    for tenant in tenants:
        mailbox.seed(db, tenant)
    return server


def email(message_id: str | None, subject: str, sender: str = "priya@brightloop.example.com") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@acme.example.com"
    message["Subject"] = subject
    message["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    if message_id is not None:
        message["Message-ID"] = message_id
    message.set_content(f"Hello, about {subject}.\n")
    return message.as_bytes()


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "imap-pass-0600")


async def test_new_mail_is_listed_once_per_message_id_with_ids_that_outlive_the_server(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    imap.deliver(email("<one@brightloop.example.com>", "Invoice"))
    imap.deliver(email("<one@brightloop.example.com>", "Invoice"))  # delivered twice: one message
    imap.deliver(email(None, "No id"))
    first = build(sqlite_db, tenants, account(imap, sink))
    async with connect(first, issuer, "acme", ["mail:read"]) as client:
        listed = ok(await client.call_tool("list_inbox", {}))["items"]
    one = message_id_of("<one@brightloop.example.com>", "", "", "")
    assert [m["id"] for m in listed][:1] == [one] and len(listed) == 2
    assert {m["status"] for m in listed} == {"unprocessed"}
    again = build(sqlite_db, tenants, account(imap, sink))  # a restarted server: nothing remembered
    async with connect(again, issuer, "acme", ["mail:read"]) as client:
        message = ok(await client.call_tool("get_message", {"message_id": one}))
        assert ok(await client.call_tool("list_inbox", {}))["items"] == listed
    assert (message["sender"], message["subject"]) == ("priya@brightloop.example.com", "Invoice")
    assert message["body"].startswith("Hello, about Invoice.")


async def test_a_draft_is_appended_to_the_drafts_folder_threaded_under_the_message(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    imap.deliver(email("<two@brightloop.example.com>", "Where is my order?"))
    server = build(sqlite_db, tenants, account(imap, sink))
    one = message_id_of("<two@brightloop.example.com>", "", "", "")
    async with connect(server, issuer, "acme", ALL) as client:
        draft = ok(await client.call_tool("save_draft", {"message_id": one, "body": "It ships today."}))
    [saved] = imap.messages("Drafts")
    assert (saved["To"], saved["From"], saved["Subject"]) == (
        "priya@brightloop.example.com",
        "support@acme.example.com",
        "Re: Where is my order?",
    )
    assert saved["In-Reply-To"] == "<two@brightloop.example.com>"
    assert saved.get_payload().strip() == "It ships today."
    assert draft["message_id"] == one and sink.received == []  # a draft is never sent
    with sqlite_db.admin_session() as session:
        assert [d.id for d in session.exec(select(DraftRow)).all()] == [draft["id"]]


async def test_mark_processed_moves_the_message_and_its_copies_to_the_processed_folder(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    imap.deliver(email("<three@brightloop.example.com>", "Thanks"))
    imap.deliver(email("<three@brightloop.example.com>", "Thanks"))
    server = build(sqlite_db, tenants, account(imap, sink))
    one = message_id_of("<three@brightloop.example.com>", "", "", "")
    async with connect(server, issuer, "acme", ["mail:read", "mail:draft"]) as client:
        done = ok(await client.call_tool("mark_processed", {"message_id": one}))
        assert ok(await client.call_tool("mark_processed", {"message_id": one}))["status"] == "processed"
        assert ok(await client.call_tool("list_inbox", {}))["items"] == []
        processed = ok(await client.call_tool("list_inbox", {"status": "processed"}))["items"]
    assert done["status"] == "processed" and [m["id"] for m in processed] == [one]
    assert imap.messages("INBOX") == []
    assert [m["Message-ID"] for m in imap.messages("Processed")] == ["<three@brightloop.example.com>"] * 2


async def test_mark_processed_flags_the_message_in_place_when_configured_so(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    imap.deliver(email("<four@brightloop.example.com>", "Flag me"))
    server = build(sqlite_db, tenants, account(imap, sink, processed_flag="\\Flagged"))
    one = message_id_of("<four@brightloop.example.com>", "", "", "")
    async with connect(server, issuer, "acme", ["mail:read", "mail:draft"]) as client:
        ok(await client.call_tool("mark_processed", {"message_id": one}))
        assert ok(await client.call_tool("list_inbox", {}))["items"] == []
    with imap.box("INBOX") as box:
        assert [m.flags for m in box.fetch("ALL", mark_seen=False)] == [("\\Flagged",)]


async def test_send_reply_goes_over_smtp_to_the_sender_only(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    imap.deliver(email("<five@brightloop.example.com>", "Refund?"))
    server = build(sqlite_db, tenants, account(imap, sink))
    one = message_id_of("<five@brightloop.example.com>", "", "", "")
    async with connect(server, issuer, "acme", ALL) as client:
        sent = ok(await client.call_tool("send_reply", {"message_id": one, "body": "Refunded."}))
        missing = await client.call_tool("send_reply", {"message_id": "M-0", "body": "x"})
    [(recipients, reply)] = sink.wait_for(1)
    assert recipients == ["priya@brightloop.example.com"] and sent["to"] == "priya@brightloop.example.com"
    assert (reply["Subject"], reply["In-Reply-To"]) == ("Re: Refund?", "<five@brightloop.example.com>")
    assert error_code(missing) == "not_found" and len(sink.received) == 1


async def test_a_tenant_not_configured_keeps_the_table(
    imap: ImapServer, sink: SmtpSink, sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = build(sqlite_db, tenants, account(imap, sink))
    async with connect(server, issuer, "northwind", ["mail:read"]) as client:
        listed = ok(await client.call_tool("list_inbox", {}))["items"]
    assert [m["id"] for m in listed] == [m.id for m in tenants[1].inbox]


def test_a_refused_login_names_the_user(imap: ImapServer, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    with pytest.raises(ConfigError) as refused:
        mailbox.open_backends({"acme": account(imap, sink)})
    assert refused.value.field == "mailbox.acme.user"
    assert "not-the-password" not in refused.value.message


def test_a_password_file_readable_by_others_is_refused(imap: ImapServer, sink: SmtpSink, tmp_path: Path) -> None:
    secret = tmp_path / "acme-mail"
    secret.write_text("imap-pass-0600\n")
    secret.chmod(0o644)
    config = account(imap, sink, password_env=None, password_file=str(secret))
    with pytest.raises(ConfigError) as refused:
        mailbox.open_backends({"acme": config})
    assert refused.value.field == "mailbox.acme.password_file" and "chmod 600" in refused.value.message
    secret.chmod(0o600)
    assert set(mailbox.open_backends({"acme": config})) == {"acme"}
