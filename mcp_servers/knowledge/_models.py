"""The knowledge server's tables."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import JSON, Column
from sqlmodel import Field

from mcp_servers.kit import TenantScoped


class ArticleRow(TenantScoped, table=True):
    __tablename__ = "knowledge_article"
    id_prefix: ClassVar[str] = "KB"

    title: str
    body: str
    tags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class TenantPolicyRow(TenantScoped, table=True):
    """One row per tenant (its id is the tenant's): the tenant's name and policy as JSON."""

    __tablename__ = "knowledge_tenant_policy"

    name: str
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
