"""A server whose PostgreSQL connection is dropped (a restart, a failover): the call on it is a clear,
retryable `unavailable`, the next call works on a fresh connection, and a keyed write retried with its
key is written once."""

from __future__ import annotations

import psycopg
import pytest
from sqlmodel import select

from mcp_servers import crm
from mcp_servers.crm import InteractionRow
from mcp_servers.kit import Database
from schemas import TenantFile
from tests.conftest import POSTGRES_URL, Issuer, connect
from tests.mcp_servers.helpers import error_code, ok, seeded

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


def drop_connections(db: Database) -> None:
    """End, from the database's side, the server's pooled connection (calls one at a time use one)."""
    with db.engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


async def test_a_call_on_a_dropped_connection_is_unavailable_and_the_next_one_works(
    postgres_db: Database, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    server = seeded(crm, postgres_db, tenants)
    email = tenants[0].customers[0].email
    async with connect(server, issuer, tenants[0].tenant, ["crm:read"]) as client:
        ok(await client.call_tool("find_customer", {"email": email}))
        drop_connections(postgres_db)
        lost = await client.call_tool("find_customer", {"email": email})
        assert error_code(lost) == "unavailable"
        assert lost.structured_content is not None and lost.structured_content["retry_after"] == 0.05
        assert ok(await client.call_tool("find_customer", {"email": email}))["customer"]["email"] == email


async def test_a_keyed_write_retried_after_a_dropped_connection_is_written_once(
    postgres_db: Database, issuer: Issuer, tenants: list[TenantFile]
) -> None:
    server = seeded(crm, postgres_db, tenants)
    tenant = tenants[0].tenant
    meta = {"deskhand/idempotency-key": "run-9:crm_writer:log"}
    async with connect(server, issuer, tenant, ["crm:read", "crm:write"]) as client:
        customer = ok(await client.call_tool("find_customer", {"email": tenants[0].customers[0].email}))["customer"]
        args = {"account_id": customer["account_id"], "channel": "email", "summary": "outage"}
        drop_connections(postgres_db)
        assert error_code(await client.call_tool("log_interaction", args, meta=meta)) == "unavailable"  # type: ignore[arg-type]
        first = ok(await client.call_tool("log_interaction", args, meta=meta))  # type: ignore[arg-type]
        again = ok(await client.call_tool("log_interaction", args, meta=meta))  # type: ignore[arg-type]
    assert again == first
    with postgres_db.admin_session() as session:
        rows = session.exec(select(InteractionRow).where(InteractionRow.summary == "outage")).all()
    assert [(row.tenant_id, row.id) for row in rows] == [(tenant, first["id"])]
