"""The mailbox server's tools: each call goes to its tenant's backend (the table one unless configured)."""

from __future__ import annotations

from collections.abc import Mapping

from mcp_servers.kit import GuardedServer, TenantSession
from mcp_servers.mailbox._backend import MailboxBackend
from mcp_servers.mailbox._table import TableBackend
from schemas.tools import mailbox
from schemas.tools.mailbox import (
    GetMessageIn,
    ListInboxIn,
    MailDraft,
    MarkProcessedIn,
    Message,
    MessageList,
    SaveDraftIn,
    SendReplyIn,
    SentReply,
)


def register(server: GuardedServer, backends: Mapping[str, MailboxBackend]) -> None:
    """Serve the five tools; a tenant of `backends` is served by its own, any other by the table. When any backend
    leaves the process (IMAP, SMTP), every call runs in a worker thread (`blocking`)."""
    table = TableBackend()
    blocking = any(not isinstance(b, TableBackend) for b in backends.values())

    def of(db: TenantSession) -> MailboxBackend:
        return backends.get(db.tenant, table)

    def list_inbox(args: ListInboxIn, db: TenantSession) -> MessageList:
        return of(db).list_inbox(args, db)

    def get_message(args: GetMessageIn, db: TenantSession) -> Message:
        return of(db).get_message(args, db)

    def save_draft(args: SaveDraftIn, db: TenantSession) -> MailDraft:
        return of(db).save_draft(args, db)

    def mark_processed(args: MarkProcessedIn, db: TenantSession) -> Message:
        return of(db).mark_processed(args, db)

    def send_reply(args: SendReplyIn, db: TenantSession) -> SentReply:
        return of(db).send_reply(args, db)

    server.add_tool(mailbox.LIST_INBOX, list_inbox, blocking=blocking)
    server.add_tool(mailbox.GET_MESSAGE, get_message, blocking=blocking)
    server.add_tool(mailbox.SAVE_DRAFT, save_draft, blocking=blocking)
    server.add_tool(mailbox.MARK_PROCESSED, mark_processed, blocking=blocking)
    server.add_tool(mailbox.SEND_REPLY, send_reply, blocking=blocking)
