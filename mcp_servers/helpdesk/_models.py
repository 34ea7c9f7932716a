"""The helpdesk server's tables."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from mcp_servers.kit import TenantScoped, tenant_index, utc_field


class TicketRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_ticket"
    # One ticket per inbound message; several tickets may have none (NULLs are distinct).
    __table_args__ = (
        UniqueConstraint("tenant_id", "source_message_id"),
        tenant_index("ix_helpdesk_ticket_tenant_customer", "customer_email", "created_at", "id"),
        tenant_index("ix_helpdesk_ticket_tenant_created", "created_at", "id"),
    )
    id_prefix: ClassVar[str] = "T"

    customer_email: str = Field(max_length=254)
    subject: str
    body: str
    status: str = Field(default="new", max_length=16)
    category: str | None = Field(default=None, max_length=64)
    priority: str | None = Field(default=None, max_length=2)
    queue: str | None = Field(default=None, max_length=64)
    source_message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()


class NoteRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_note"
    __table_args__ = (tenant_index("ix_helpdesk_note_tenant_ticket", "ticket_id"),)
    id_prefix: ClassVar[str] = "N"

    ticket_id: str = Field(max_length=64)
    body: str
    author: str = Field(max_length=200)
    created_at: datetime = utc_field()


class DraftRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_draft"
    __table_args__ = (tenant_index("ix_helpdesk_draft_tenant_ticket", "ticket_id"),)
    id_prefix: ClassVar[str] = "D"

    ticket_id: str = Field(max_length=64)
    subject: str
    body: str
    created_at: datetime = utc_field()
