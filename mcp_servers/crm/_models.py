"""The CRM server's tables."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlmodel import Field

from mcp_servers.kit import TenantScoped, tenant_index, utc_field


class CustomerRow(TenantScoped, table=True):
    __tablename__ = "crm_customer"
    __table_args__ = (tenant_index("ix_crm_customer_tenant_email", "email"),)
    id_prefix: ClassVar[str] = "C"

    email: str = Field(max_length=254)
    name: str
    phone: str | None = None
    account_id: str = Field(max_length=64)
    plan: str


class AccountRow(TenantScoped, table=True):
    __tablename__ = "crm_account"
    id_prefix: ClassVar[str] = "A"

    name: str
    plan: str
    status: str = "active"
    credit_balance_cents: int = 0


class InteractionRow(TenantScoped, table=True):
    __tablename__ = "crm_interaction"
    __table_args__ = (tenant_index("ix_crm_interaction_tenant_account", "account_id", "created_at"),)
    id_prefix: ClassVar[str] = "I"

    account_id: str = Field(max_length=64)
    channel: str
    summary: str
    created_at: datetime = utc_field()


class CreditRow(TenantScoped, table=True):
    __tablename__ = "crm_credit"
    __table_args__ = (tenant_index("ix_crm_credit_tenant_account", "account_id"),)
    id_prefix: ClassVar[str] = "CR"

    account_id: str = Field(max_length=64)
    amount_cents: int
    reason: str
    created_at: datetime = utc_field()
