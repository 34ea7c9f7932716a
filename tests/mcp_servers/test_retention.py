"""The kit's retention: a server's audit rows and idempotency records past their cut-offs, counted or deleted in
one transaction, never a kept run's rows nor an earlier prune's own, and the prune audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from mcp_servers import crm
from mcp_servers.kit import PRUNE_TOOL, AuditRecord, Database, IdempotencyRecord, Pruned, prune_records, table_of
from schemas import META_IDEMPOTENCY_KEY, META_RUN, TenantFile
from tests.conftest import Issuer, connect
from tests.mcp_servers.helpers import ok, seeded

pytestmark = pytest.mark.anyio
AUDIT, KEYS = table_of(AuditRecord), table_of(IdempotencyRecord)


def counted(db: Database) -> tuple[dict[str | None, int], int]:
    """The audit rows by tool, and the idempotency records."""
    with db.engine.begin() as connection:
        tools = dict(connection.execute(select(AUDIT.c.tool, func.count()).group_by(AUDIT.c.tool)).all())
        return tools, connection.execute(select(func.count()).select_from(KEYS)).scalar_one()


async def test_prune_records_removes_rows_past_their_cut_offs_and_audits_itself(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, db, tenants)
    account = tenants[0].accounts[0].id
    async with connect(server, issuer, "acme", ["crm:read", "crm:write"]) as client:
        for n, run in enumerate(("R-old", "R-old", "R-kept")):
            args = {"account_id": account, "summary": f"note {n}"}
            ok(await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: f"k-{n}", META_RUN: run}))
        ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}, meta={META_RUN: "R-old"}))
        await server.audit.flush()
    long_ago = datetime.now(UTC) - timedelta(days=40)
    with db.engine.begin() as connection:
        connection.execute(update(AUDIT).values(at=long_ago))
        connection.execute(update(KEYS).where(KEYS.c.id != "k-2").values(created_at=long_ago))
    cut = datetime.now(UTC) - timedelta(days=30)
    before = counted(db)
    assert before == ({"log_interaction": 3, "find_customer": 1}, 3)

    def prune(dry_run: bool) -> Pruned:
        return prune_records(
            db, audit_before=cut, idempotency_before=cut, keep_runs=["R-kept"], actor="local:op", dry_run=dry_run
        )

    assert prune(dry_run=True) == Pruned(audit_log=3, idempotency_record=2)
    assert counted(db) == before  # counted, nothing deleted, nothing audited
    assert prune(dry_run=False) == Pruned(audit_log=3, idempotency_record=2)
    assert counted(db) == ({"log_interaction": 1, PRUNE_TOOL: 1}, 1)  # the kept run's row, the prune's own
    with db.engine.begin() as connection:
        [(run_id,)] = connection.execute(select(AUDIT.c.run_id).where(AUDIT.c.tool == "log_interaction")).all()
        [prune_row] = connection.execute(select(AUDIT).where(AUDIT.c.tool == PRUNE_TOOL)).all()
        connection.execute(update(AUDIT).values(at=long_ago))
    assert run_id == "R-kept"
    assert (prune_row.actor, prune_row.subject, prune_row.tenant_id, prune_row.outcome) == (
        "local:op",
        "local:op",
        None,
        "allowed",
    )
    assert prune(dry_run=False) == Pruned(audit_log=0, idempotency_record=0)  # an earlier prune's row stays
    assert counted(db)[0] == {"log_interaction": 1, PRUNE_TOOL: 2}


def test_a_database_without_the_kits_tables_has_nothing_to_prune(sqlite_db: Database) -> None:
    now = datetime.now(UTC)
    pruned = prune_records(sqlite_db, audit_before=now, idempotency_before=now, actor="local:op")
    assert pruned == Pruned(audit_log=0, idempotency_record=0)
