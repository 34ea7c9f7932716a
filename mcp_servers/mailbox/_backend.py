"""Where a tenant's mail lives: one narrow protocol, the five tools of `schemas.tools.mailbox` over one tenant's
mailbox. `TableBackend` (`_table.py`) is the reference; `ImapBackend` (`_imap.py`) a real account over IMAP and
SMTP. The server picks one per tenant (`deskhand.toml`'s `[mailbox.TENANT]`); the tools' contracts stay the same."""

from __future__ import annotations

from typing import Protocol

from mcp_servers.kit import TenantSession
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


class MailboxBackend(Protocol):
    """One tenant's mailbox. Each method runs in the call's tenant-bound transaction (`db`): what it adds there
    commits with the call's audit and idempotency records."""

    def list_inbox(self, args: ListInboxIn, db: TenantSession) -> MessageList: ...

    def get_message(self, args: GetMessageIn, db: TenantSession) -> Message: ...

    def save_draft(self, args: SaveDraftIn, db: TenantSession) -> MailDraft: ...

    def mark_processed(self, args: MarkProcessedIn, db: TenantSession) -> Message: ...

    def send_reply(self, args: SendReplyIn, db: TenantSession) -> SentReply: ...
