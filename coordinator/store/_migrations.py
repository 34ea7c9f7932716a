"""Schema versions of the coordinator's store, applied in order and recorded (`coord_schema_version`).

A new version appends a function here; `migrate()` runs those not yet applied, each in its own
transaction, so every process that opens the store agrees on the schema. Downgrades are not supported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from coordinator.store._tables import (
    ApprovalRow,
    AuditEntry,
    ExchangeRow,
    HandoffRow,
    RunRow,
    SchemaVersion,
    UsageRow,
    WorkflowRow,
)
from mcp_servers.kit import table_of


def _v1(connection: Connection) -> None:
    tables: list[type[SQLModel]] = [RunRow, HandoffRow, ApprovalRow, UsageRow, AuditEntry]
    SQLModel.metadata.create_all(connection, tables=[table_of(t) for t in tables])


def _v2(connection: Connection) -> None:
    SQLModel.metadata.create_all(connection, tables=[table_of(ExchangeRow)])


def _v3(connection: Connection) -> None:
    # Indexes that lead with the tenant (and end with the sort), for the queries that run per intake and per
    # handoff: a tenant's runs in flight, its spend today, pending approvals. The single-column indexes they
    # replace served these queries by walking every tenant's rows (or a tenant's whole history). And the
    # pending handoffs in creation order, so that a claim stops at the first due one instead of sorting the
    # whole backlog.
    replaced = ("run_tenant", "approval_tenant", "approval_status", "approval_run_id", "usage_tenant")
    _reindex(connection, replaced, (RunRow, HandoffRow, ApprovalRow, UsageRow))


def _v4(connection: Connection) -> None:
    # A run's audit trail by time: its entries are written in batches by each process's writer (and an
    # approval's decision directly), so their sequence numbers are not the order they happened in.
    _reindex(connection, ("audit_run_id",), (AuditEntry,))


def _v5(connection: Connection) -> None:
    # How many times a handoff was taken over (a worker died holding it), and since when it has been waiting
    # for a server that is down: both bound how long a handoff is tried before its run escalates.
    # (a store created at this version has them already: v1 creates the table from the current model)
    table = table_of(HandoffRow)
    present = {column["name"] for column in inspect(connection).get_columns("coord_handoff")}
    for name in ("takeovers", "outage_since"):
        if name in present:
            continue
        column = table.c[name]
        kind = column.type.compile(dialect=connection.dialect)
        default = " NOT NULL DEFAULT 0" if name == "takeovers" else ""
        connection.execute(text(f"ALTER TABLE coord_handoff ADD COLUMN {name} {kind}{default}"))


def _v6(connection: Connection) -> None:
    SQLModel.metadata.create_all(connection, tables=[table_of(WorkflowRow)])


def _v7(connection: Connection) -> None:
    # When each handoff's attempt started and finished, and when each exchange was made and how long it took:
    # a run's timeline with durations. (Values recorded on the rows the per-handoff path writes anyway.)
    _add_columns(connection, HandoffRow, ("started_at", "finished_at"))
    _add_columns(connection, ExchangeRow, ("at", "duration_ms"))


def _v8(connection: Connection) -> None:
    # A tenant's runs by creation, for the lists that page through them newest first (without it, SQLite sorted
    # every one of the tenant's runs for each page), and a run's handoffs by step, for its timeline.
    _reindex(connection, ("handoff_run_id",), (RunRow, HandoffRow))


def _add_columns(connection: Connection, model: type[SQLModel], names: tuple[str, ...]) -> None:
    """Add the nullable columns `names` of `model` its table lacks (a store created at this version has them)."""
    table = table_of(model)
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    for name in names:
        if name not in present:
            kind = table.c[name].type.compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}"))


def _reindex(connection: Connection, replaced: tuple[str, ...], tables: tuple[type[SQLModel], ...]) -> None:
    """Drop the indexes `ix_coord_<replaced>` and create the indexes the models of `tables` name."""
    for old in replaced:
        connection.execute(text(f"DROP INDEX IF EXISTS ix_coord_{old}"))
    for table in tables:
        for index in table_of(table).indexes:
            index.create(connection, checkfirst=True)


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "runs, handoffs, approvals, usage ledger, audit", _v1),
    (2, "model and tool exchanges of each run, for replay", _v2),
    (3, "indexes that lead with the tenant (runs in flight, spend today, approvals) and the claim queue", _v3),
    (4, "a run's audit trail in the order it happened (by time, not by when a batch was written)", _v4),
    (5, "a handoff's takeovers and the start of the outage it waits out", _v5),
    (6, "the workflow versions runs started on, so that each run finishes on its own", _v6),
    (7, "when each handoff started and finished, when each exchange was made and how long it took", _v7),
    (8, "a tenant's runs by creation time (lists paged newest first), a run's handoffs by step", _v8),
]
LATEST = MIGRATIONS[-1][0]


def migrate(engine: Engine) -> int:
    """Bring the store to the latest schema; returns the version it is at. Safe to run from many
    processes at once: they take turns, on PostgreSQL by an advisory lock, on SQLite by taking the database's
    write lock before reading the applied versions (`BEGIN IMMEDIATE`; the others wait on the busy timeout)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7311)"))
        elif connection.dialect.name == "sqlite":
            # the driver opens its transaction only before a write, and DDL reads first: open it now, as a writer
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        SQLModel.metadata.create_all(connection, tables=[table_of(SchemaVersion)])
        applied = {row[0] for row in connection.execute(table_of(SchemaVersion).select())}
        for version, _, step in MIGRATIONS:
            if version not in applied:
                step(connection)
                connection.execute(
                    table_of(SchemaVersion).insert().values(version=version, applied_at=datetime.now(UTC))
                )
    return LATEST


def current_version(engine: Engine) -> int | None:
    if not inspect(engine).has_table(SchemaVersion.__tablename__):
        return None
    with engine.begin() as connection:
        versions = [row[0] for row in connection.execute(table_of(SchemaVersion).select())]
    return max(versions) if versions else None
