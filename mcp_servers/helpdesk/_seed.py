"""Loading a tenant file's tickets (idempotent: loading twice leaves one copy).

What the file says (subject, body, status, category, priority, and the queue of the category in
the policy) is written again on every load; the timestamps of a ticket already loaded are kept.
New seeded tickets are dated a minute apart in file order, the last one a minute ago, so that
"newest first" follows the file.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mcp_servers.helpdesk._models import TicketRow
from mcp_servers.kit import Database
from schemas import TenantFile


def seed(db: Database, tenant: TenantFile) -> None:
    now = datetime.now(UTC)
    with db.admin_session() as session:
        for age, ticket in zip(range(len(tenant.tickets), 0, -1), tenant.tickets, strict=True):
            stored = session.get(TicketRow, (tenant.tenant, ticket.id))
            created = stored.created_at if stored else now - timedelta(minutes=age)
            category = tenant.policy.category(ticket.category) if ticket.category else None
            session.merge(
                TicketRow(
                    tenant_id=tenant.tenant,
                    id=ticket.id,
                    customer_email=ticket.customer,
                    subject=ticket.subject,
                    body=ticket.body,
                    status=ticket.status,
                    category=ticket.category,
                    priority=ticket.priority,
                    queue=category.queue if category else None,
                    created_at=created,
                    updated_at=stored.updated_at if stored else created,
                )
            )
        session.commit()
