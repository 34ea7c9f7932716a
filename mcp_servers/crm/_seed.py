"""Loading a tenant file's CRM data (idempotent: loading twice leaves one copy)."""

from __future__ import annotations

from mcp_servers.crm._models import AccountRow, CustomerRow
from mcp_servers.kit import Database
from schemas import TenantFile


def seed(db: Database, tenant: TenantFile) -> None:
    with db.admin_session() as session:
        for account in tenant.all_accounts():
            session.merge(AccountRow(tenant_id=tenant.tenant, id=account.id, name=account.name, plan=account.plan))
        for c in tenant.customers:
            session.merge(
                CustomerRow(
                    tenant_id=tenant.tenant,
                    id=c.id,
                    email=c.email,
                    name=c.name,
                    phone=c.phone,
                    account_id=c.account,
                    plan=c.plan,
                )
            )
        session.commit()
