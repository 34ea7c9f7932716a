"""Loading a tenant file's articles, name and policy (idempotent: loading twice leaves one copy)."""

from __future__ import annotations

from mcp_servers.kit import Database
from mcp_servers.knowledge._models import ArticleRow, TenantPolicyRow
from schemas import TenantFile


def seed(db: Database, tenant: TenantFile) -> None:
    with db.admin_session() as session:
        session.merge(
            TenantPolicyRow(
                tenant_id=tenant.tenant,
                id=tenant.tenant,
                name=tenant.name,
                policy=tenant.policy.model_dump(mode="json"),
            )
        )
        for article in tenant.articles:
            session.merge(
                ArticleRow(
                    tenant_id=tenant.tenant,
                    id=article.id,
                    title=article.title,
                    body=article.body,
                    tags=list(article.tags),
                )
            )
        session.commit()
