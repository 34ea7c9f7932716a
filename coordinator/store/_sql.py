"""What every part of the store shares: the tables as Core handles, the inserts built once, sessions and clocks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine
from sqlmodel import Session

from coordinator.store._tables import ApprovalRow, AuditEntry, ExchangeRow, HandoffRow, RunRow, UsageRow
from mcp_servers.kit import table_of

RUN = table_of(RunRow)
HANDOFF = table_of(HandoffRow)
APPROVAL = table_of(ApprovalRow)
USAGE = table_of(UsageRow)
AUDIT = table_of(AuditEntry)
EXCHANGE = table_of(ExchangeRow)
# The inserts of the per-handoff path, built once: SQLAlchemy memoizes the cache key of a statement it sees
# again, and `table.insert()` is a new statement every time.
INSERT = {table: table.insert() for table in (HANDOFF, APPROVAL, USAGE, AUDIT, EXCHANGE)}


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def updated(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    statement = statement.execution_options(synchronize_session=False)
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def values(row: Any) -> dict[str, Any]:
    """A table model's column values for a Core insert (an unset key left to the database)."""
    return {
        c.name: value for c in row.__table__.columns if (value := getattr(row, c.name)) is not None or not c.primary_key
    }


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """An ORM session whose rows stay readable after commit."""
    with Session(engine, expire_on_commit=False) as opened:
        yield opened
