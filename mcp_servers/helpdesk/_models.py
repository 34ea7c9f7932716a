"""The helpdesk server's tables."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from mcp_servers.kit import TenantScoped, utc_field


class TicketRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_ticket"
    # One ticket per inbound message; several tickets may have none (NULLs are distinct).
    __table_args__ = (UniqueConstraint("tenant_id", "source_message_id"),)
    id_prefix: ClassVar[str] = "T"

    customer_email: str = Field(index=True, max_length=254)
    subject: str
    body: str
    status: str = Field(default="new", max_length=16)
    category: str | None = Field(default=None, max_length=64)
    priority: str | None = Field(default=None, max_length=2)
    queue: str | None = Field(default=None, max_length=64)
    source_message_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field(index=True)
    updated_at: datetime = utc_field()


class NoteRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_note"
    id_prefix: ClassVar[str] = "N"

    ticket_id: str = Field(index=True, max_length=64)
    body: str
    author: str = Field(max_length=200)
    created_at: datetime = utc_field()


class DraftRow(TenantScoped, table=True):
    __tablename__ = "helpdesk_draft"
    id_prefix: ClassVar[str] = "D"

    ticket_id: str = Field(index=True, max_length=64)
    subject: str
    body: str
    created_at: datetime = utc_field()
