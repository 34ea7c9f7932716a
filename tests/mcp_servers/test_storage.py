"""The tenant-bound data layer refuses every query that does not carry the session's tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from mcp_servers.crm import CustomerRow
from mcp_servers.kit import Database, TenantRequired, TenantSession
from schemas import NotFound


@pytest.fixture
def seeded(db: Database) -> Database:
    db.create_tables([CustomerRow])
    with db.admin_session() as session:
        for tenant in ("acme", "northwind"):
            session.add(
                CustomerRow(
                    tenant_id=tenant, id="C-1", email=f"a@{tenant}.test", name=tenant, account_id="A-1", plan="pro"
                )
            )
        session.commit()
    return db


def test_scoped_select_sees_only_its_tenant(seeded: Database) -> None:
    with seeded.tenant_session("acme") as session:
        rows = session.exec(session.select(CustomerRow)).all()
        assert [(r.tenant_id, r.email) for r in rows] == [("acme", "a@acme.test")]
        assert session.one(CustomerRow, "C-1").name == "acme"


@pytest.mark.parametrize(
    "attempt",
    [
        lambda s: s.exec(select(CustomerRow)).all(),
        lambda s: s.get(CustomerRow, ("northwind", "C-1")),
        lambda s: s.exec(select(func.count()).select_from(CustomerRow)).one(),
        lambda s: s.exec(text("SELECT * FROM crm_customer")).all(),  # type: ignore[call-overload]
    ],
    ids=["hand-written select", "get by primary key", "aggregate", "textual SQL"],
)
def test_queries_without_the_tenant_are_refused(seeded: Database, attempt: Callable[[TenantSession], Any]) -> None:
    with seeded.tenant_session("acme") as session, pytest.raises(TenantRequired):
        attempt(session)


def test_writing_another_tenants_row_is_refused_and_nothing_is_written(seeded: Database) -> None:
    with seeded.tenant_session("acme") as session:
        session.add(
            CustomerRow(tenant_id="northwind", id="C-9", email="m@x.test", name="m", account_id="A", plan="pro")
        )
        with pytest.raises(TenantRequired):
            session.commit()
    with seeded.tenant_session("northwind") as session:
        assert len(session.exec(session.select(CustomerRow)).all()) == 1


def test_update_and_delete_touch_only_the_sessions_tenant(seeded: Database) -> None:
    with seeded.tenant_session("acme") as session:
        session.exec(session.update(CustomerRow).values(name="renamed"))  # type: ignore[call-overload]
        session.exec(session.delete(CustomerRow))  # type: ignore[call-overload]
        session.commit()
    with seeded.tenant_session("northwind") as session:
        assert session.one(CustomerRow, "C-1").name == "northwind"


def test_another_tenants_id_behaves_like_a_missing_one(seeded: Database) -> None:
    with seeded.tenant_session("acme") as session:
        session.exec(session.delete(CustomerRow))  # type: ignore[call-overload]
        session.commit()
        with pytest.raises(NotFound) as missing:
            session.one(CustomerRow, "C-1")
        with pytest.raises(NotFound) as absent:
            session.one(CustomerRow, "C-404")
    assert missing.value.message.replace("C-1", "X") == absent.value.message.replace("C-404", "X")


def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from mcp_servers.crm import InteractionRow

    db.create_tables([InteractionRow])
    moment = datetime(2026, 11, 24, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with db.tenant_session("acme") as session:
        session.add(
            InteractionRow(
                tenant_id="acme", id="I-1", account_id="A-1", channel="email", summary="s", created_at=moment
            )
        )
        session.commit()
    with db.tenant_session("acme") as session:
        stored = session.one(InteractionRow, "I-1").created_at
    assert stored == moment and stored.tzinfo == UTC and stored.hour == 7


@pytest.mark.anyio
async def test_run_does_sqlite_work_on_the_loop_and_postgresql_work_in_a_thread(seeded: Database) -> None:
    """SQLite work runs in the caller's thread (a hop to a thread cost more than the work); PostgreSQL
    work in a worker thread, so a round trip or a lock wait never stalls the event loop. Either way the
    result, or the error, comes back to the caller."""
    import threading

    def count(tenant: str) -> tuple[int, int]:
        with seeded.tenant_session(tenant) as session:
            rows = len(session.exec(session.select(CustomerRow)).all())
        return rows, threading.get_ident()

    def missing() -> None:
        with seeded.tenant_session("acme") as session:
            session.one(CustomerRow, "C-nope")

    rows, thread = await seeded.run(count, "acme")
    assert rows == 1  # its own customer, not the other tenant's
    on_loop = seeded.engine.dialect.name == "sqlite"
    assert (thread == threading.get_ident()) is on_loop
    with pytest.raises(NotFound, match="C-nope"):
        await seeded.run(missing)
