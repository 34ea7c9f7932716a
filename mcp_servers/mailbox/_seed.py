"""Loading a tenant file's inbox (idempotent: loading twice leaves one copy).

The sender, subject and body come from the file on every load; a message already loaded keeps
its status and time of arrival, so loading again never puts a processed message back in the
inbox. New seeded messages arrive a minute apart in file order, the last one a minute ago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mcp_servers.kit import Database
from mcp_servers.mailbox._models import MessageRow
from schemas import TenantFile


def seed(db: Database, tenant: TenantFile) -> None:
    now = datetime.now(UTC)
    with db.admin_session() as session:
        for age, message in zip(range(len(tenant.inbox), 0, -1), tenant.inbox, strict=True):
            stored = session.get(MessageRow, (tenant.tenant, message.id))
            session.merge(
                MessageRow(
                    tenant_id=tenant.tenant,
                    id=message.id,
                    sender=message.sender,
                    subject=message.subject,
                    body=message.body,
                    status=stored.status if stored else "unprocessed",
                    received_at=stored.received_at if stored else now - timedelta(minutes=age),
                )
            )
        session.commit()
