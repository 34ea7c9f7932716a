"""The server's audit trail cannot be silenced by what a caller sends, loses no row without counting it,
names who acted, and commits a write's row with the write."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import text
from sqlmodel import select

from coordinator._tokens import ALGORITHM
from mcp_servers import crm
from mcp_servers.kit import AuditLog, AuditRecord, Database, GuardedServer
from schemas import META_IDEMPOTENCY_KEY, META_RUN, META_TRACEPARENT, Claims, TenantFile
from tests.conftest import AUDIENCE, ISSUER, Issuer, connect
from tests.mcp_servers.helpers import error_code, error_field, ok, seeded

pytestmark = pytest.mark.anyio


def audit_rows(db: Database) -> list[AuditRecord]:
    with db.admin_session() as session:
        return list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())  # type: ignore[arg-type]


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


async def test_calls_carrying_nul_and_lone_surrogates_leave_the_audit_writing(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, db, tenants)
    account = tenants[0].accounts[0].id
    odd_tool = "find_customer\x00\x7f" + "y" * 300  # lone surrogates in a name: over HTTP, test_request_errors
    odd_key = "k\x00\udc00" + "x" * 300
    async with connect(server, issuer, "acme", ["crm:read", "crm:write"]) as client:
        assert error_code(await client.call_tool(odd_tool, {"email": "a@example.com"})) == "invalid_argument"
        assert error_field(await client.call_tool("find_customer", {"email": "a\x00@example.com"})) == "email"
        assert error_field(await client.call_tool("find_customer", {"email": "\ud800@example.com"})) == "email"
        refused = await client.call_tool(
            "log_interaction", {"account_id": account, "summary": "hi"}, meta={META_IDEMPOTENCY_KEY: odd_key}
        )
        assert error_field(refused) == f"_meta.{META_IDEMPOTENCY_KEY}"
        ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}))
        await server.audit.flush()
        ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}))
        await server.audit.flush()

    rows = audit_rows(db)
    assert [r.outcome for r in rows] == ["denied"] * 4 + ["allowed"] * 2
    assert server.audit.stats.unstorable == 0 and server.audit.stats.queued == 0
    odd = rows[0]
    assert odd.tool == ("find_customer\ufffd\ufffd" + "y" * 300)[:200] and odd.tool_sha256 == sha256(odd_tool)
    keyed = rows[3]
    assert keyed.idempotency_key is not None and len(keyed.idempotency_key) == 200
    assert "\x00" not in keyed.idempotency_key and keyed.idempotency_key_sha256 == sha256(odd_key)


async def test_a_row_the_database_refuses_is_dropped_alone_and_counted(db: Database) -> None:
    GuardedServer("t", db=db).create_tables()
    audit = AuditLog(db)
    for n in range(7):
        row = audit.row(tenant="acme", subject="s", client_id="c", tool=f"tool-{n}", args_digest="0" * 64)
        if n == 3:
            row["tool"] = "bad\ud800"  # made storable by row(); forced back to what no backend stores
        audit.queue(row, outcome="allowed", code=None, latency_ms=1.0)

    assert await audit.flush() == 6
    assert audit.stats.unstorable == 1 and audit.stats.queued == 0
    audit.record(tenant="acme", subject="s", client_id="c", tool="later", args_digest="0" * 64, outcome="allowed",
                 code=None, latency_ms=1.0)  # fmt: skip
    assert await audit.flush() == 1
    assert [r.tool for r in audit_rows(db)] == [f"tool-{n}" for n in range(7) if n != 3] + ["later"]


async def test_a_full_audit_queue_turns_rows_away_and_counts_them(sqlite_db: Database) -> None:
    GuardedServer("t", db=sqlite_db).create_tables()
    audit = AuditLog(sqlite_db, max_queue=3)
    for n in range(5):
        audit.record(tenant="acme", subject="s", client_id="c", tool=f"tool-{n}", args_digest="0" * 64,
                     outcome="allowed", code=None, latency_ms=1.0)  # fmt: skip
    assert audit.stats.dropped == 2 and audit.stats.queued == 3
    assert await audit.flush() == 3
    assert [r.tool for r in audit_rows(sqlite_db)] == ["tool-0", "tool-1", "tool-2"]


async def test_rows_wait_for_a_database_that_cannot_be_reached() -> None:
    db = Database("postgresql://postgres@127.0.0.1:9/nowhere?connect_timeout=1")
    try:
        audit = AuditLog(db)
        audit.record(tenant="acme", subject="s", client_id="c", tool="t", args_digest="0" * 64, outcome="allowed",
                     code=None, latency_ms=1.0)  # fmt: skip
        assert await audit.flush() == 0
        assert audit.stats.queued == 1 and audit.stats.unstorable == 0
    finally:
        db.dispose()


async def test_an_audit_table_of_the_previous_version_gets_the_new_columns(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    with db.engine.begin() as connection:  # the audit_log of the version before run, trace and actor
        connection.execute(
            text(
                "CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, at TIMESTAMP NOT NULL, tenant_id VARCHAR(64),"
                " subject VARCHAR(200), client_id VARCHAR(200), tool VARCHAR(200) NOT NULL,"
                " args_hash VARCHAR(64) NOT NULL, outcome VARCHAR(16) NOT NULL, code VARCHAR(40),"
                " idempotency_key VARCHAR(200), latency_ms FLOAT NOT NULL)"
                if db.on_loop
                else "CREATE TABLE audit_log (seq SERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL,"
                " tenant_id VARCHAR(64), subject VARCHAR(200), client_id VARCHAR(200), tool VARCHAR(200) NOT NULL,"
                " args_hash VARCHAR(64) NOT NULL, outcome VARCHAR(16) NOT NULL, code VARCHAR(40),"
                " idempotency_key VARCHAR(200), latency_ms FLOAT NOT NULL)"
            )
        )
    server = seeded(crm, db, tenants)
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}, meta={META_RUN: "run-1"}))
        await server.audit.flush()
    assert [r.run_id for r in audit_rows(db)] == ["run-1"]


def attributed_token(issuer: Issuer, scopes: list[str], *, run: str | None, actor: str | None) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "specialist:billing",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        Claims.TENANT: "acme",
        Claims.SCOPE: " ".join(scopes),
        Claims.CLIENT_ID: "deskhand-coordinator",
    }
    if run is not None:
        claims[Claims.RUN] = run
    if actor is not None:
        claims[Claims.ACTOR] = {"sub": actor}
    return jwt.encode(claims, issuer.keys.private_key, algorithm=ALGORITHM, headers={"kid": issuer.keys.kid})


async def test_audit_rows_name_the_run_the_trace_and_the_person_acted_for(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    from mcp import Client

    server = seeded(crm, sqlite_db, tenants)
    account = tenants[0].accounts[0].id
    trace = "0af7651916cd43dd8448eb211c80319c"
    traceparent = f"00-{trace}-b7ad6b7169203331-01"
    token = attributed_token(issuer, ["crm:read", "crm:credit"], run="run-of-token", actor="ops@example.com")
    async with Client(await server.in_memory(issuer.verifier(), token), raise_exceptions=True) as client:
        meta = {META_RUN: "run-of-meta", META_TRACEPARENT: traceparent, META_IDEMPOTENCY_KEY: "credit-1"}
        credit = {"account_id": account, "amount_cents": 100, "reason": "r"}
        ok(await client.call_tool("issue_credit", credit, meta=meta))  # type: ignore[arg-type]
    plain = attributed_token(issuer, ["crm:read"], run=None, actor=None)
    async with Client(await server.in_memory(issuer.verifier(), plain), raise_exceptions=True) as client:
        meta = {META_RUN: "run-\x00" + "x" * 300, META_TRACEPARENT: "not a traceparent"}
        ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}, meta=meta))  # type: ignore[arg-type]
        await server.audit.flush()

    credit, read = audit_rows(sqlite_db)
    assert (credit.subject, credit.actor, credit.run_id, credit.trace_id) == (
        "specialist:billing",
        "ops@example.com",
        "run-of-token",  # the token's run wins over the caller's _meta
        trace,
    )
    assert read.actor is None and read.trace_id == "not a traceparent"
    assert read.run_id is not None and len(read.run_id) == 200 and read.run_id.startswith("run-\ufffd")


async def test_a_write_commits_with_its_audit_row(db: Database, tenants: list[TenantFile], issuer: Issuer) -> None:
    server = seeded(crm, db, tenants)
    server.audit.interval = 3600  # the background writer would not write a queued row during this test
    account = tenants[0].accounts[0].id
    async with connect(server, issuer, "acme", ["crm:read", "crm:write"]) as client:
        await server.audit.flush()  # nothing queued from before
        args = {"account_id": account, "summary": "called back"}
        ok(await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: "k-1"}))
        ok(await client.call_tool("log_interaction", {**args, "summary": "unkeyed"}))
        rows = audit_rows(db)  # no flush: the rows came with the writes
        assert [(r.tool, r.outcome, r.idempotency_key) for r in rows] == [
            ("log_interaction", "allowed", "k-1"),
            ("log_interaction", "allowed", None),
        ]
        assert server.audit.stats.queued == 0
        # A repeat answered from the idempotency record writes nothing, and is audited through the queue.
        ok(await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: "k-1"}))
        assert server.audit.stats.queued == 1
        # So is a write the handler refuses (nothing committed).
        refused = await client.call_tool("log_interaction", {"account_id": "A-nope", "summary": "x"})
        assert error_code(refused) == "not_found"
        await server.audit.flush()
    assert [r.outcome for r in audit_rows(db)] == ["allowed", "allowed", "allowed", "failed"]


async def test_a_long_idempotency_key_is_kept_on_every_backend(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, db, tenants)
    account = tenants[0].accounts[0].id
    key = "k" * 200
    async with connect(server, issuer, "acme", ["crm:write"]) as client:
        args = {"account_id": account, "summary": "called back"}
        first = ok(await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: key}))
        again = ok(await client.call_tool("log_interaction", args, meta={META_IDEMPOTENCY_KEY: key}))
        other = await client.call_tool("log_interaction", {**args, "summary": "x"}, meta={META_IDEMPOTENCY_KEY: key})
    assert again["id"] == first["id"]
    assert error_code(other) == "idempotency_conflict"


async def test_a_nul_in_a_valid_string_is_invalid_argument_on_every_backend(
    db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    server = seeded(crm, db, tenants)
    account = tenants[0].accounts[0].id
    async with connect(server, issuer, "acme", ["crm:write"]) as client:
        result = await client.call_tool("log_interaction", {"account_id": account, "summary": "before\x00after"})
    assert error_field(result) == "summary"


async def test_the_audit_queue_bound_is_a_server_setting(
    sqlite_db: Database, tenants: list[TenantFile], issuer: Issuer
) -> None:
    from mcp_servers.kit import BoundarySettings

    server = seeded(crm, sqlite_db, tenants, BoundarySettings(audit_queue=2))
    server.audit.interval = 3600  # the background writer would not write a queued row during this test
    async with connect(server, issuer, "acme", ["crm:read"]) as client:
        for _ in range(3):
            ok(await client.call_tool("find_customer", {"email": "nobody@example.com"}))
        assert server.audit.stats.dropped == 1
    assert len(audit_rows(sqlite_db)) == 2
