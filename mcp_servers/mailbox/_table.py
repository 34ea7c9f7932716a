"""The table backend (the default): the tenant's mail in the mailbox server's own tables, seeded from its tenant
file. Nothing leaves the process: `send_reply` records the reply in the outbox table, addressed to the sender of
the message it answers (the contract has no recipient argument, so it cannot be another).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col

from mcp_servers.kit import TenantSession
from mcp_servers.mailbox._models import DraftRow, MessageRow, SentReplyRow
from schemas.tools.mailbox import (
    GetMessageIn,
    ListInboxIn,
    MailDraft,
    MarkProcessedIn,
    Message,
    MessageList,
    MessageSummary,
    SaveDraftIn,
    SendReplyIn,
    SentReply,
)


def _message(row: MessageRow) -> Message:
    return Message.model_validate(row, from_attributes=True)


def reply_subject(subject: str) -> str:
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def list_inbox(args: ListInboxIn, db: TenantSession) -> MessageList:
    query = db.select(MessageRow)
    if args.status != "all":
        query = query.where(MessageRow.status == args.status)
    rows = db.exec(query.order_by(col(MessageRow.received_at).asc(), col(MessageRow.id).asc()).limit(args.limit)).all()
    return MessageList(items=[MessageSummary.model_validate(r, from_attributes=True) for r in rows])


def get_message(args: GetMessageIn, db: TenantSession) -> Message:
    return _message(db.one(MessageRow, args.message_id, what="message"))


def save_draft(args: SaveDraftIn, db: TenantSession) -> MailDraft:
    message = db.one(MessageRow, args.message_id, what="message")
    row = DraftRow(
        tenant_id=db.tenant,
        id=DraftRow.new_id(),
        message_id=message.id,
        subject=args.subject or reply_subject(message.subject),
        body=args.body,
        created_at=datetime.now(UTC),
    )
    db.add(row)
    return MailDraft.model_validate(row, from_attributes=True)


def mark_processed(args: MarkProcessedIn, db: TenantSession) -> Message:
    row = db.one(MessageRow, args.message_id, what="message")
    row.status = "processed"
    db.add(row)
    return _message(row)


def send_reply(args: SendReplyIn, db: TenantSession) -> SentReply:
    message = db.one(MessageRow, args.message_id, what="message")
    row = SentReplyRow(
        tenant_id=db.tenant,
        id=SentReplyRow.new_id(),
        message_id=message.id,
        to=message.sender,
        subject=args.subject or reply_subject(message.subject),
        body=args.body,
        sent_at=datetime.now(UTC),
    )
    db.add(row)
    return SentReply.model_validate(row, from_attributes=True)


class TableBackend:
    """The mailbox as rows of the server's database: what `seed` loaded, drafts, and the outbox."""

    def list_inbox(self, args: ListInboxIn, db: TenantSession) -> MessageList:
        return list_inbox(args, db)

    def get_message(self, args: GetMessageIn, db: TenantSession) -> Message:
        return get_message(args, db)

    def save_draft(self, args: SaveDraftIn, db: TenantSession) -> MailDraft:
        return save_draft(args, db)

    def mark_processed(self, args: MarkProcessedIn, db: TenantSession) -> Message:
        return mark_processed(args, db)

    def send_reply(self, args: SendReplyIn, db: TenantSession) -> SentReply:
        return send_reply(args, db)
