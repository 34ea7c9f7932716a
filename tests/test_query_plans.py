"""Every statement of the hot paths is served by an index, and on a server by one that leads with the tenant.

The sample inbox of both tenants goes through the coordinator (four real servers in memory, a real store
on SQLite), its approvals are granted, and then every tool of every server is called once more. Each
SELECT, UPDATE and DELETE those runs sent to a database is explained (`EXPLAIN QUERY PLAN`, with the
parameters it ran with). A full scan, or a sort of all matching rows for an `ORDER BY ... LIMIT`, grows
with the table; on a server, an index that does not lead with `tenant_id` grows with the other tenants'
rows. Either fails the test, naming the statement and its plan.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from sqlalchemy import Engine, event, inspect, text

from coordinator._registry import load_specialists
from coordinator._sessions import SessionPool
from coordinator._worker import work
from coordinator.models import OfflineModel
from coordinator.runtime import Runtime
from coordinator.store import Store
from coordinator.store._migrations import LATEST, current_version, migrate
from coordinator.views import describe
from mcp_servers.helpdesk import TicketRow
from mcp_servers.kit import Database
from schemas import InboundEmail, ServerName, server_of_scope
from schemas.tools import TOOLS_BY_NAME
from tests.mcp_servers.helpers import ok
from tests.specialists.harness import World

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parent.parent

Statements = dict[str, Any]


def capture(engine: Engine, into: Statements) -> None:
    """Keep every distinct SELECT, UPDATE and DELETE `engine` runs, with the parameters of its first run."""

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if not executemany and statement.lstrip()[:6].upper() in ("SELECT", "UPDATE", "DELETE"):
            into.setdefault(statement, parameters)

    event.listen(engine, "before_cursor_execute", seen)


def bad_plans(engine: Engine, statements: Statements, *, tenant_scoped: bool) -> list[str]:
    statements = {s: p for s, p in statements.items() if "sqlite_master" not in s}  # schema look-ups at set-up
    tables = set(inspect(engine).get_table_names())
    problems = []
    with engine.connect() as connection:
        for statement, parameters in statements.items():
            plan = [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            for step in plan:
                words = step.split()
                table = words[1] if len(words) > 1 and words[0] in ("SCAN", "SEARCH") else None
                wrong = (
                    (words[0] == "SCAN" and table in tables)
                    or "TEMP B-TREE" in step
                    or (tenant_scoped and words[0] == "SEARCH" and table in tables and "(tenant_id=?" not in step)
                )
                if wrong:
                    problems.append(f"{' '.join(statement.split())[:240]}\n    plan: {plan}")
                    break
    return problems


async def every_tool(world: World, tenant: str) -> set[str]:
    """Call every tool of every server once, for `tenant` (after the inbox has run); the names called."""
    clients: dict[str, Client] = {}
    called: set[str] = set()

    async def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        called.add(name)
        return ok(await clients[name.split(".")[0]].call_tool(name.split(".")[1], arguments))

    scopes: dict[ServerName, set[str]] = {}
    for spec in TOOLS_BY_NAME.values():
        scopes.setdefault(server_of_scope(spec.scope), set()).add(spec.scope)
    async with AsyncExitStack() as stack:
        for server, server_scopes in scopes.items():
            clients[server] = await stack.enter_async_context(world.connect(tenant, server, sorted(server_scopes)))
        email = world.tenants[tenant].customers[0].email
        customer = (await call("crm.find_customer", {"email": email}))["customer"]
        account = customer["account_id"]
        await call("crm.get_account", {"account_id": account})
        await call("crm.list_interactions", {"account_id": account, "limit": 5})
        await call("crm.log_interaction", {"account_id": account, "channel": "email", "summary": "plans"})
        await call("crm.update_contact", {"customer_id": customer["id"], "phone": "+1 555 0100"})
        await call("crm.issue_credit", {"account_id": account, "amount_cents": 100, "reason": "plans"})
        ticket = await call(
            "helpdesk.create_ticket", {"customer_email": email, "subject": "Plans", "body": "query plans"}
        )
        await call("helpdesk.get_ticket", {"ticket_id": ticket["id"]})
        for search in ({"customer_email": email}, {"query": "invoice"}, {"status": "new"}, {}):
            await call("helpdesk.search_tickets", {**search, "limit": 5})
        await call("helpdesk.update_ticket", {"ticket_id": ticket["id"], "priority": "P3"})
        await call("helpdesk.route_ticket", {"ticket_id": ticket["id"], "queue": "billing"})
        await call("helpdesk.add_internal_note", {"ticket_id": ticket["id"], "body": "noted"})
        await call("helpdesk.attach_draft", {"ticket_id": ticket["id"], "subject": "Re: Plans", "body": "Hello"})
        articles = await call("knowledge.search_articles", {"query": "invoice", "limit": 3})
        await call("knowledge.get_article", {"article_id": articles["items"][0]["id"]})
        await call("knowledge.get_policy", {})
        await call("knowledge.get_template", {"category": "billing"})
        await call("mailbox.list_inbox", {"limit": 5})
        inbox = await call("mailbox.list_inbox", {"status": "all", "limit": 5})
        message = inbox["items"][0]["id"]
        await call("mailbox.get_message", {"message_id": message})
        await call("mailbox.save_draft", {"message_id": message, "subject": "Re", "body": "Hello"})
        await call("mailbox.send_reply", {"message_id": message, "subject": "Re", "body": "Hello"})
        await call("mailbox.mark_processed", {"message_id": message})
    return called


async def test_every_hot_statement_uses_an_index_and_a_server_one_that_leads_with_the_tenant(
    world: World, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'coordinator.db'}")
    seen: dict[str, Statements] = {name: {} for name in [*world.servers, "coordinator"]}
    for name, server in world.servers.items():
        capture(server.db.engine, seen[name])
    capture(store.engine, seen["coordinator"])
    async with SessionPool(world.connect) as pool:
        runtime = Runtime(
            store=store,
            specialists=load_specialists(),
            pool=pool,
            model=OfflineModel(),
            policies={name: t.policy for name, t in world.tenants.items()},
        )
        for line in (REPO / "examples" / "inbox.jsonl").read_text().splitlines():
            item = json.loads(line)
            email = InboundEmail(message_id=item["id"], sender=item["from"], subject=item["subject"], body=item["body"])
            runtime.submit(item["tenant"], email)
        refund = "We were charged twice for March. Please refund the duplicate $120.00 charge."
        customer = world.tenants["acme"].customers[0].email
        runtime.submit("acme", InboundEmail(sender=customer, subject="Charged twice - please refund", body=refund))
        await work(runtime, concurrency=2, until_idle=True, poll_seconds=0.01)
        pending = store.approvals()
        assert pending, "the refund is parked for approval"
        for approval in pending:
            await runtime.decide(
                approval.id,
                tenant=approval.tenant,
                approve=True,
                actor="ops@acme.example",
                seen_hash=approval.args_hash,
                connect_tool=world.connect,
            )
        await work(runtime, concurrency=2, until_idle=True, poll_seconds=0.01)
        store.approvals(tenant="acme")
        for run in store.runs(tenant="acme", status="completed"):
            store.audit_trail(run.id)
        # what the API and the console read per page: a tenant's runs a page at a time, and a run's whole story
        # (the usage reports group a window of runs by day: a bounded scan of one tenant's, not a hot statement)
        first = store.runs_page(tenant="acme", limit=5)
        store.runs_page(tenant="acme", after=(first[-1].created_at, first[-1].id), limit=5)
        describe(store, first[0].id, "acme")
    assert await every_tool(world, "acme") == set(TOOLS_BY_NAME)

    problems = [
        f"[{name}] {problem}"
        for name, server in world.servers.items()
        for problem in bad_plans(server.db.engine, seen[name], tenant_scoped=True)
    ]
    problems += [f"[coordinator] {p}" for p in bad_plans(store.engine, seen["coordinator"], tenant_scoped=False)]
    store.dispose()
    assert all(seen.values()), {name: len(statements) for name, statements in seen.items()}
    assert not problems, "\n".join(problems)


def test_the_checker_flags_a_lookup_that_walks_other_tenants_rows(tmp_path: Path) -> None:
    """The check above can fail: an index on the email alone serves `tenant_id = ? AND email = ?` by
    walking every tenant's rows with that email, and a sort of all matches serves ORDER BY ... LIMIT."""
    db = Database(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    db.create_tables([TicketRow])
    with db.engine.begin() as connection:  # the indexes of the previous version
        connection.execute(text("DROP INDEX ix_helpdesk_ticket_tenant_customer"))
        connection.execute(text("DROP INDEX ix_helpdesk_ticket_tenant_created"))
        connection.execute(text("CREATE INDEX ix_old_email ON helpdesk_ticket (customer_email)"))
        connection.execute(text("CREATE INDEX ix_old_created ON helpdesk_ticket (created_at)"))
    statements: Statements = {}
    capture(db.engine, statements)
    with db.tenant_session("acme") as session:
        query = session.select(TicketRow).where(TicketRow.customer_email == "a@example.com")
        session.exec(query.order_by(TicketRow.created_at.desc()).limit(5)).all()  # type: ignore[attr-defined]
    [problem] = bad_plans(db.engine, statements, tenant_scoped=True)
    assert "ix_old_email (customer_email=?)" in problem and "TEMP B-TREE" in problem
    db.dispose()


def test_tables_of_an_earlier_version_get_the_indexes_added_since(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'helpdesk.db'}")
    db.create_tables([TicketRow])
    with db.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_helpdesk_ticket_tenant_customer"))
        connection.execute(
            text(
                "INSERT INTO helpdesk_ticket (tenant_id, id, customer_email, subject, body, status, "
                "created_at, updated_at) VALUES ('acme', 'T-1', 'a@example.com', 's', 'b', 'new', "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    db.create_tables([TicketRow])
    names = {index["name"] for index in inspect(db.engine).get_indexes("helpdesk_ticket")}
    assert {"ix_helpdesk_ticket_tenant_customer", "ix_helpdesk_ticket_tenant_created"} <= names
    with db.admin_session() as session:
        assert session.get(TicketRow, ("acme", "T-1")) is not None  # the rows stay
    db.dispose()


def test_a_store_of_schema_2_moves_to_the_current_indexes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'coordinator.db'}")
    engine = store.engine
    with engine.begin() as connection:  # back to what version 2 made
        for index in (
            "ix_coord_run_tenant_status",
            "ix_coord_run_tenant_created",
            "ix_coord_usage_tenant_at",
            "ix_coord_approval_tenant_status",
            "ix_coord_audit_run_at",
        ):
            connection.execute(text(f"DROP INDEX {index}"))
        connection.execute(text("CREATE INDEX ix_coord_run_tenant ON coord_run (tenant)"))
        connection.execute(text("CREATE INDEX ix_coord_usage_tenant ON coord_usage (tenant)"))
        connection.execute(text("CREATE INDEX ix_coord_audit_run_id ON coord_audit (run_id)"))
        connection.execute(text("DELETE FROM coord_schema_version WHERE version > 2"))
    assert current_version(engine) == 2
    assert migrate(engine) == LATEST == 8 and current_version(engine) == 8
    indexes = {table: {i["name"] for i in inspect(engine).get_indexes(table)} for table in ("coord_run", "coord_usage")}
    audit = {index["name"] for index in inspect(engine).get_indexes("coord_audit")}
    assert "ix_coord_run_tenant_status" in indexes["coord_run"] and "ix_coord_run_tenant" not in indexes["coord_run"]
    assert "ix_coord_run_tenant_created" in indexes["coord_run"]
    assert (
        "ix_coord_usage_tenant_at" in indexes["coord_usage"] and "ix_coord_usage_tenant" not in indexes["coord_usage"]
    )
    assert "ix_coord_audit_run_at" in audit and "ix_coord_audit_run_id" not in audit
    store.dispose()
