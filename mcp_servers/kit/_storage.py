"""Tenant-bound storage: every row carries `tenant_id`, and no query runs without a tenant.

Tables subclass `TenantScoped` (primary key `(tenant_id, id)`). Tools reach the database only
through `Database.tenant_session(tenant)`, a SQLModel session bound to one tenant, whose query
constructors put the tenant in every statement:
- `session.select(Model)`, `session.update(Model)`, `session.delete(Model)` start statements
  already filtered on `tenant_id`; `session.one(Model, id)` fetches one row or raises `NotFound`;
- the session refuses any statement that did not come from those constructors (a hand-written
  `select(...)`, `session.get(...)`, textual SQL), so a query without the tenant cannot run;
- every row it flushes must belong to its tenant (a new row without a tenant is given it).
A row of another tenant therefore behaves exactly like a row that does not exist. The only
unscoped way in is `Database.admin_session()`, for `deskhand init` (tables, tenant files).
(The kit's own two statements on its idempotency table run as Core on the session's connection,
with the session's tenant bound in: see `_run` in _server.py.)
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, ParamSpec, TypeVar

import anyio
from pydantic_core import from_json, to_json
from sqlalchemy import DateTime, Delete, Dialect, Engine, Index, Table, Update, bindparam, event, inspect, update
from sqlalchemy import delete as sa_delete
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, col, create_engine, select
from sqlmodel.sql.expression import SelectOfScalar

from schemas import NotFound


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back as an aware UTC datetime (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store aware datetimes (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_field(*, index: bool = False) -> Any:
    """A column for a `datetime` attribute that round-trips as aware UTC."""
    return Field(sa_type=UtcDateTime, index=index)


def tenant_index(name: str, *columns: str) -> Index:
    """An index that starts with `tenant_id`, for a table's `__table_args__`. Every query of a tool is
    filtered on the tenant, so an index that leads with it serves the lookup (and, with the sort columns
    last, the `ORDER BY ... LIMIT`) without walking other tenants' rows: a tenant's queries cost the same
    however much the others store. Give a new name when you change an index's columns: `create_tables`
    adds indexes missing from a database by name."""
    return Index(name, "tenant_id", *columns)


class TenantScoped(SQLModel):
    """Base of every tenant-owned table: primary key `(tenant_id, id)`."""

    tenant_id: str = Field(primary_key=True, max_length=64)
    id: str = Field(primary_key=True, max_length=64)

    id_prefix: ClassVar[str] = "R"

    @classmethod
    def new_id(cls) -> str:
        return f"{cls.id_prefix}-{uuid.uuid4().hex[:12]}"


class TenantRequired(RuntimeError):
    """A developer's mistake: a query was attempted without a tenant, or across tenants."""


_TENANT_OPTION = "deskhand_tenant"

_Row = TypeVar("_Row", bound=TenantScoped)
_P = ParamSpec("_P")
_T = TypeVar("_T")


class TenantSession(Session):
    """A session bound to one tenant; see the module docstring."""

    @property
    def tenant(self) -> str:
        tenant = self.info.get("tenant")
        if not isinstance(tenant, str):
            raise TenantRequired("this session is not bound to a tenant")
        return tenant

    def select(self, model: type[_Row]) -> SelectOfScalar[_Row]:
        """`SELECT model WHERE tenant_id = <this tenant>`; add `.where(...)` as usual."""
        tenant = self.tenant
        return select(model).where(col(model.tenant_id) == tenant).execution_options(**{_TENANT_OPTION: tenant})

    def update(self, model: type[_Row]) -> Update:
        tenant = self.tenant
        return update(model).where(col(model.tenant_id) == tenant).execution_options(**{_TENANT_OPTION: tenant})

    def delete(self, model: type[_Row]) -> Delete:  # type: ignore[override]
        tenant = self.tenant
        return sa_delete(model).where(col(model.tenant_id) == tenant).execution_options(**{_TENANT_OPTION: tenant})

    def one(self, model: type[_Row], record_id: str, *, what: str | None = None) -> _Row:
        """The row with this id, or `NotFound` (also for another tenant's id)."""
        tenant = self.tenant
        row = self.exec(
            _by_id(model),
            params={"deskhand_tenant_id": tenant, "deskhand_id": record_id},
            execution_options={_TENANT_OPTION: tenant},
        ).first()
        if row is None:
            raise NotFound(f"{what or model.__name__.lower()} {record_id!r} not found", field=None)
        return row


_BY_ID: dict[type[TenantScoped], SelectOfScalar[Any]] = {}


def _by_id(model: type[_Row]) -> SelectOfScalar[_Row]:
    """`SELECT model WHERE tenant_id = :tenant AND id = :id`, built once per table: a statement built anew
    for every fetch cost as much as running it (SQLAlchemy memoizes the cache key of a statement it sees again)."""
    statement = _BY_ID.get(model)
    if statement is None:
        statement = _BY_ID[model] = select(model).where(
            col(model.tenant_id) == bindparam("deskhand_tenant_id"), col(model.id) == bindparam("deskhand_id")
        )
    return statement


@event.listens_for(TenantSession, "do_orm_execute")
def _refuse_unscoped(state: ORMExecuteState) -> None:
    tenant = state.session.info.get("tenant")
    if not isinstance(tenant, str) or state.execution_options.get(_TENANT_OPTION) != tenant:
        raise TenantRequired(
            "statement without this session's tenant: build it with session.select/update/delete(Model)"
        )


@event.listens_for(TenantSession, "before_flush")
def _check_tenant_of_rows(session: Session, _context: Any, _instances: Any) -> None:
    tenant = session.info.get("tenant")
    if not isinstance(tenant, str):
        raise TenantRequired("write without a tenant")
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, TenantScoped):
            if row.tenant_id is None:
                row.tenant_id = tenant
            elif row.tenant_id != tenant:
                raise TenantRequired(f"row of tenant {row.tenant_id!r} in a session of tenant {tenant!r}")


class Database:
    """One server's database: SQLite by file (the default) or PostgreSQL by URL."""

    def __init__(self, url: str, *, echo: bool = False, pre_ping: bool = False) -> None:
        """`pre_ping` (PostgreSQL): test each pooled connection with a round trip before use, so that a
        connection the database dropped (a restart, a failover, an idle timeout) is replaced unseen. It
        costs ~0.1 ms of CPU a checkout, ~20% of a short tool call. A server does without it: a tool
        call on a dropped connection fails as `unavailable` (retry after 0.05 s), which clients retry (the
        coordinator's toolbox does), and the pool replaces its connections. The coordinator's store,
        whose workers have no such retry, keeps it."""
        self.url = url
        parsed = make_url(url)
        # JSON columns through pydantic-core: 2–3× faster than the json module, on every row written or read.
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_dumps, "json_deserializer": from_json}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
        elif parsed.get_backend_name() == "postgresql":
            if parsed.drivername == "postgresql":
                url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
            kwargs["pool_pre_ping"] = pre_ping
        self.engine: Engine = create_engine(url, **kwargs)
        self.on_loop = parsed.get_backend_name() == "sqlite"
        if self.on_loop:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    async def run(self, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run blocking database work from async code. SQLite: on the event loop, one call after another.
        Its transactions take well under a millisecond, one process serves each file, and a hop to a
        worker thread cost more than the work (measured: a server's CPU per call fell by a quarter
        under concurrent calls, when handing off to threads and the GIL convoy behind them stopped).
        PostgreSQL: in a worker thread, so a network round trip or a lock wait never stalls the loop."""
        if self.on_loop:
            return work(*args, **kwargs)
        return await anyio.to_thread.run_sync(lambda: work(*args, **kwargs))

    def create_tables(self, tables: Sequence[type[SQLModel]]) -> None:
        """Create these tables if they do not exist (each server creates only its own), and the nullable
        columns and the indexes of their models that an existing database lacks (by name: a database made
        by an earlier version gets the columns and indexes added since; one no model names any more is
        left in place)."""
        sa_tables = [table_of(t) for t in tables]
        with self.engine.begin() as connection:
            SQLModel.metadata.create_all(connection, tables=sa_tables)
            inspector = inspect(connection)
            preparer = connection.dialect.identifier_preparer
            for table in sa_tables:
                columns = {column["name"] for column in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in columns and column.nullable:
                        kind = column.type.compile(dialect=connection.dialect)
                        name, where = preparer.quote(column.name), preparer.format_table(table)
                        connection.exec_driver_sql(f"ALTER TABLE {where} ADD COLUMN {name} {kind}")
                present = {index["name"] for index in inspector.get_indexes(table.name)}
                for index in table.indexes:
                    if index.name not in present:
                        index.create(connection)

    @contextmanager
    def tenant_session(self, tenant: str) -> Iterator[TenantSession]:
        if not tenant:
            raise TenantRequired("a tenant session needs a tenant")
        with TenantSession(self.engine, info={"tenant": tenant}, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def admin_session(self) -> Iterator[Session]:
        """An unscoped session for set-up code (creating tables, loading tenant files). Never for tools."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _json_dumps(value: Any) -> str:
    return to_json(value).decode()


WAL_SWITCH_WAIT = 5.0
"""How long a connection retries switching a new database file to WAL while another process holds its lock."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    # WAL is kept in the file, so only a new database needs the switch. The switch takes an exclusive lock that
    # the busy handler does not wait for: a process opening the same new file while another migrates it retries.
    deadline = time.monotonic() + WAL_SWITCH_WAIT
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # in memory, or for a temporary file, it stays as it is
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def table_of(model: type[SQLModel]) -> Table:
    """The Core table a SQLModel table class maps (SQLModel's types do not declare `__table__`)."""
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not a table model"
    return table
