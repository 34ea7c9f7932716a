"""The mailbox server's tables: the inbox, drafts, and the outbox of replies sent."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field

from mcp_servers.kit import TenantScoped, tenant_index, utc_field


class MessageRow(TenantScoped, table=True):
    __tablename__ = "mailbox_message"
    __table_args__ = (
        tenant_index("ix_mailbox_message_tenant_status", "status", "received_at", "id"),
        tenant_index("ix_mailbox_message_tenant_received", "received_at", "id"),
    )
    id_prefix: ClassVar[str] = "M"

    sender: str = Field(max_length=254)
    subject: str
    body: str
    status: str = Field(default="unprocessed", max_length=16)
    received_at: datetime = utc_field()


class DraftRow(TenantScoped, table=True):
    __tablename__ = "mailbox_draft"
    __table_args__ = (tenant_index("ix_mailbox_draft_tenant_message", "message_id"),)
    id_prefix: ClassVar[str] = "D"

    message_id: str = Field(max_length=64)
    subject: str
    body: str
    created_at: datetime = utc_field()


class SentReplyRow(TenantScoped, table=True):
    """A reply handed to the outbox. Its recipient is always the sender of `message_id`."""

    __tablename__ = "mailbox_sent_reply"
    __table_args__ = (tenant_index("ix_mailbox_sent_reply_tenant_message", "message_id"),)
    id_prefix: ClassVar[str] = "S"

    message_id: str = Field(max_length=64)
    to: str = Field(max_length=254)
    subject: str
    body: str
    sent_at: datetime = utc_field()
