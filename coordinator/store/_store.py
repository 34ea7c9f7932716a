"""The store: runs, handoffs with leases, approvals, the usage ledger and the audit trail.

SQLite by default (one process; workers are tasks), PostgreSQL by URL (any number of worker
processes). A worker claims a handoff whose lease expired (its worker died), else the oldest
pending one, with a lease; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two workers never
claim the same one. Finishing a handoff (its state, the next handoffs, the run, the usage) is one
transaction, and only the lease holder can do it (a worker that lost its lease is fenced off).
The coordinator's audit entries and exchange log are written behind that path, like the servers'
audit: queued, and committed together every 50 ms by a thread of the store's own (reading them, or
disposing of the store, writes what is queued first; a hard crash loses at most the last 50 ms).
All methods are synchronous; the async runtime calls the per-handoff ones on its event loop for SQLite
(sub-millisecond transactions) and in a worker thread for PostgreSQL (see `Runtime.stored`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, CursorResult, Engine, Table, and_, bindparam, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coordinator.store._migrations import migrate
from coordinator.store._tables import (
    ApprovalRow,
    AuditEntry,
    AuditRecord,
    ExchangeRecord,
    ExchangeRow,
    HandoffRow,
    RunRow,
    UsageRow,
)
from mcp_servers.kit import Database
from schemas import Conflict, DeskhandError, Handoff, NotFound, RunBudget, RunStatus
from specialists.kit import Usage


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _updated(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    statement = statement.execution_options(synchronize_session=False)
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


logger = logging.getLogger(__name__)

_RUN = cast(Table, RunRow.__table__)  # type: ignore[attr-defined]
_HANDOFF = cast(Table, HandoffRow.__table__)  # type: ignore[attr-defined]
_APPROVAL = cast(Table, ApprovalRow.__table__)  # type: ignore[attr-defined]
_USAGE = cast(Table, UsageRow.__table__)  # type: ignore[attr-defined]
_AUDIT = cast(Table, AuditEntry.__table__)  # type: ignore[attr-defined]
_EXCHANGE = cast(Table, ExchangeRow.__table__)  # type: ignore[attr-defined]
# The inserts of the per-handoff path, built once: SQLAlchemy memoizes the cache key of a statement it sees
# again, and `table.insert()` is a new statement every time.
_INSERT = {table: table.insert() for table in (_HANDOFF, _APPROVAL, _USAGE, _AUDIT, _EXCHANGE)}


def _values(row: Any) -> dict[str, Any]:
    """A table model's column values for a Core insert (an unset key left to the database)."""
    return {
        c.name: value for c in row.__table__.columns if (value := getattr(row, c.name)) is not None or not c.primary_key
    }


@dataclass(frozen=True)
class Claim:
    """A claimed handoff, with what its run has produced so far and when the run started."""

    handoff: Handoff
    run_result: dict[str, Any]
    run_created_at: datetime
    takeovers: int = 0
    """Times the handoff was taken over from a worker that stopped renewing its lease."""
    outage_since: datetime | None = None
    """When the handoff first found a server down (it is waiting the outage out), else None."""

    def following(self, handoff: Handoff, result: dict[str, Any] | None) -> Claim:
        """The claim of the run's next handoff when the worker that finished this one keeps it
        (`result`: what this one added to the run's results)."""
        merged = {**self.run_result, **result} if result else self.run_result
        return Claim(handoff.moved_to("claimed"), merged, self.run_created_at)


class _Statements:
    """The statements of the per-handoff path, built once (building a statement costs more than running it)."""

    def __init__(self, postgres: bool) -> None:
        now: BindParameter[datetime] = bindparam("now")
        claimable = or_(
            and_(
                _HANDOFF.c.state == "pending", or_(_HANDOFF.c.lease_expires.is_(None), _HANDOFF.c.lease_expires < now)
            ),
            and_(_HANDOFF.c.state == "claimed", _HANDOFF.c.lease_expires < now),
        )
        # Which one: a handoff whose worker stopped renewing its lease (walking `ix_handoff_claim` from the
        # longest expired), else the oldest pending one that is due (walking `ix_handoff_queue` in creation
        # order). Each walk stops at its first match, so a claim costs the same with a backlog of ten or of
        # ten thousand; one "oldest of both" query had to gather and sort the whole backlog every time.
        abandoned = (
            select(_HANDOFF.c.id)
            .where(_HANDOFF.c.state == "claimed", _HANDOFF.c.lease_expires < now)
            .order_by(_HANDOFF.c.lease_expires)
            .limit(1)
        )
        due = (
            select(_HANDOFF.c.id)
            .where(
                _HANDOFF.c.state == "pending", or_(_HANDOFF.c.lease_expires.is_(None), _HANDOFF.c.lease_expires < now)
            )
            .order_by(_HANDOFF.c.created_at)
            .limit(1)
        )
        if postgres:  # two workers never wait for, or take, the same one
            abandoned = abandoned.with_for_update(skip_locked=True)
            due = due.with_for_update(skip_locked=True)
        self.claim = (
            update(_HANDOFF)
            .where(_HANDOFF.c.id == func.coalesce(abandoned.scalar_subquery(), due.scalar_subquery()), claimable)
            .values(
                state="claimed",
                lease_owner=bindparam("worker"),
                lease_expires=bindparam("expires"),
                # a claimed handoff taken over after its lease expired is another attempt
                attempt=_HANDOFF.c.attempt + case((_HANDOFF.c.state == "claimed", 1), else_=0),
                takeovers=_HANDOFF.c.takeovers + case((_HANDOFF.c.state == "claimed", 1), else_=0),
            )
            .returning(*_HANDOFF.c)
        )
        self.run_start = select(_RUN.c.result, _RUN.c.created_at).where(_RUN.c.id == bindparam("run_id"))
        self.finish_handoff = (
            update(_HANDOFF)
            .where(
                _HANDOFF.c.id == bindparam("handoff_id"),
                _HANDOFF.c.lease_owner == bindparam("worker"),
                _HANDOFF.c.state == "claimed",
            )
            .values(state=bindparam("new_state"), lease_expires=None, error=bindparam("error"))
        )
        read = select(_RUN.c.result).where(_RUN.c.id == bindparam("run_id"))
        self.run_result = read.with_for_update() if postgres else read
        # the run's counters add up; status, reason and end time change only when given (NULL keeps them)
        run_values: dict[str, Any] = {
            "status": func.coalesce(bindparam("status", type_=_RUN.c.status.type), _RUN.c.status),
            "reason": func.coalesce(func.nullif(bindparam("reason", type_=_RUN.c.reason.type), ""), _RUN.c.reason),
            "finished_at": func.coalesce(bindparam("finished_at", type_=_RUN.c.finished_at.type), _RUN.c.finished_at),
            "updated_at": bindparam("updated_at", type_=_RUN.c.updated_at.type),
            "tool_calls": _RUN.c.tool_calls + bindparam("add_tool_calls"),
            "tokens": _RUN.c.tokens + bindparam("add_tokens"),
            "cost_usd": _RUN.c.cost_usd + bindparam("add_cost"),
            "iterations": _RUN.c.iterations + bindparam("add_iterations"),
        }
        run = update(_RUN).where(_RUN.c.id == bindparam("run_id"))
        self.update_run = run.values(**run_values)
        self.update_run_result = run.values(**run_values, result=bindparam("result", type_=_RUN.c.result.type))


@dataclass(frozen=True)
class Finished:
    """What `Store.finish` did."""

    recorded: bool
    """False if the worker had lost the handoff's lease: nothing was changed."""
    next: Claim | None = None
    """The worker's next handoff, claimed in the same transaction (with `then_claim`)."""


class _RecordWriter:
    """Audit entries and exchanges, queued in order and written in one transaction every `interval`
    seconds by a daemon thread (started on first use). `flush` writes what is queued at once."""

    def __init__(self, engine: Engine, *, interval: float = 0.05) -> None:
        self._engine = engine
        self._interval = interval
        self._queued: list[tuple[Sequence[AuditRecord], Sequence[ExchangeRecord]]] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()  # batches are written one at a time, in the order they were queued
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, audit: Sequence[AuditRecord], exchanges: Sequence[ExchangeRecord]) -> None:
        if not audit and not exchanges:
            return
        with self._queue_lock:
            if self._closed:
                raise RuntimeError("the store was disposed of")
            self._queued.append((audit, exchanges))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="deskhand-records", daemon=True)
                self._thread.start()

    def flush(self) -> None:
        with self._write_lock:
            with self._queue_lock:
                batch, self._queued = self._queued, []
            audit = [row for entries, _ in batch for row in entries]
            exchanges = [row for _, rows in batch for row in rows]
            if not audit and not exchanges:
                return
            try:
                with self._engine.begin() as connection:
                    if audit:
                        connection.execute(_INSERT[_AUDIT], audit)
                    if exchanges:
                        connection.execute(_INSERT[_EXCHANGE], exchanges)
            except Exception:
                with self._queue_lock:  # nothing was written: the rows go back, first in line
                    self._queued[:0] = batch
                raise

    def close(self) -> None:
        with self._queue_lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            try:
                self.flush()
            except Exception:  # the top of the writer thread: the rows wait for the next try; say why
                logger.exception("writing the coordinator's audit and exchanges failed; retrying")


@dataclass
class _Spend:
    day: date
    usd: float
    read_at: float


def new_trace() -> str:
    """A W3C traceparent for a new run: version 00, random trace and span ids, sampled."""
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class Store:
    def __init__(self, url: str) -> None:
        # The kit's engine set-up: SQLite in WAL mode (a commit does not wait for a full fsync), psycopg for PostgreSQL.
        self.database = Database(url, pre_ping=True)  # a worker has no retry around a dropped connection
        self.engine: Engine = self.database.engine
        self.url = url
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.version = migrate(self.engine)
        self._sql = _Statements(self.is_postgres)
        self._records = _RecordWriter(self.engine)
        self._spend: dict[str, _Spend] = {}
        self._spend_lock = threading.Lock()

    def dispose(self) -> None:
        self._records.close()
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # -- runs -----------------------------------------------------------------------------------

    def start_run(
        self, tenant: str, source_key: str, event: dict[str, Any], first: str, budget: RunBudget
    ) -> tuple[str, bool]:
        """The run for this event, and whether it is new. One run per (tenant, source): re-submitting
        the same email, or listing the same inbox twice, does not process it twice."""
        now = _now()
        run_id = f"R-{uuid.uuid4().hex[:16]}"
        trace = new_trace()
        handoff = Handoff(
            run_id=run_id, tenant=tenant, sender="intake", recipient=first, payload=event, budget=budget, trace=trace
        )
        with self._session() as session:
            session.add(
                RunRow(
                    id=run_id,
                    tenant=tenant,
                    source_key=source_key,
                    status="running",
                    event=event,
                    trace=trace,
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(HandoffRow(**self._row(handoff)))
            session.add(
                AuditEntry(
                    at=now, tenant=tenant, run_id=run_id, actor="intake", decision="run started", outcome=source_key
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.exec(
                    select(RunRow).where(RunRow.tenant == tenant, RunRow.source_key == source_key)
                ).one()
                return existing.id, False
        return run_id, True

    def run(self, run_id: str, *, tenant: str | None = None) -> RunRow:
        with self._session() as session:
            row = session.get(RunRow, run_id)
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFound(f"run {run_id!r} not found")
        return row

    def runs(self, *, tenant: str | None = None, status: str | None = None, limit: int = 1000) -> list[RunRow]:
        with self._session() as session:
            query = select(RunRow)
            if tenant:
                query = query.where(RunRow.tenant == tenant)
            if status:
                query = query.where(RunRow.status == status)
            return list(session.exec(query.order_by(col(RunRow.created_at)).limit(limit)).all())

    def running_runs(self, tenant: str) -> int:
        with self._session() as session:
            return int(
                session.exec(
                    select(func.count()).select_from(RunRow).where(RunRow.tenant == tenant, RunRow.status == "running")
                ).one()
            )

    def spend_today(self, tenant: str, *, fresh_within: float = 0.0) -> float:
        """What the tenant's model calls cost today (UTC), in USD. With `fresh_within`, a total read
        from the database at most that many seconds ago serves (plus what this process recorded since):
        the per-handoff budget check then costs no query."""
        cached = self.cached_spend(tenant, fresh_within)
        if cached is not None:
            return cached
        today = _now().date()
        start = datetime(today.year, today.month, today.day, tzinfo=UTC)
        with self.engine.connect() as connection:
            total = float(
                connection.execute(
                    select(func.coalesce(func.sum(_USAGE.c.cost_usd), 0.0)).where(
                        _USAGE.c.tenant == tenant, _USAGE.c.at >= start
                    )
                ).scalar_one()
            )
        with self._spend_lock:
            self._spend[tenant] = _Spend(today, total, time.monotonic())
        return total

    def cached_spend(self, tenant: str, fresh_within: float) -> float | None:
        """Today's spend of `tenant` if this process read it within `fresh_within` seconds, else None."""
        entry = self._spend.get(tenant)
        if entry is None or entry.day != _now().date() or time.monotonic() - entry.read_at > fresh_within:
            return None
        return entry.usd

    def _spent(self, tenant: str, usd: float) -> None:
        if usd:
            with self._spend_lock:
                entry = self._spend.get(tenant)
                if entry is not None:
                    entry.usd += usd

    # -- handoffs -------------------------------------------------------------------------------

    @staticmethod
    def _row(handoff: Handoff) -> dict[str, Any]:
        """The column values of a handoff's row."""
        return {
            "id": handoff.id,
            "run_id": handoff.run_id,
            "tenant": handoff.tenant,
            "sender": handoff.sender,
            "recipient": handoff.recipient,
            "state": handoff.state,
            "attempt": handoff.attempt,
            "step": handoff.step,
            "payload": handoff.payload,
            "budget": handoff.budget.model_dump(),
            "trace": handoff.trace,
            "lease_owner": None,
            "lease_expires": None,
            "error": "",
            "created_at": handoff.created_at,
            "takeovers": 0,
            "outage_since": None,
        }

    @staticmethod
    def _handoff_of(row: Mapping[Any, Any]) -> Handoff:
        """The frozen envelope of a row, validated."""
        return Handoff(
            id=row["id"],
            run_id=row["run_id"],
            tenant=row["tenant"],
            sender=row["sender"],
            recipient=row["recipient"],
            state=row["state"],
            attempt=row["attempt"],
            step=row["step"],
            payload=row["payload"],
            budget=RunBudget.model_validate(row["budget"]),
            trace=row["trace"],
            created_at=_aware(row["created_at"]),
        )

    def claim(self, worker: str, lease_seconds: float) -> Claim | None:
        """Claim a handoff for `worker`: one claimed under an expired lease (its worker is gone), else the
        oldest pending one that is due, with what its run has produced so far: one UPDATE … RETURNING
        and one read, in one transaction."""
        with self.engine.begin() as connection:
            return self._claim(connection, worker, lease_seconds)

    def _claim(self, connection: Connection, worker: str, lease_seconds: float) -> Claim | None:
        now = _now()
        row = (
            connection.execute(
                self._sql.claim, {"now": now, "worker": worker, "expires": now + timedelta(seconds=lease_seconds)}
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        run = connection.execute(self._sql.run_start, {"run_id": row["run_id"]}).one()
        return Claim(
            self._handoff_of(row),
            dict(run.result),
            cast(datetime, _aware(run.created_at)),
            takeovers=row["takeovers"],
            outage_since=_aware(row["outage_since"]),
        )

    def release(
        self,
        handoff: Handoff,
        worker: str,
        error: str,
        delay_seconds: float,
        *,
        attempt: bool = True,
        outage_since: datetime | None = None,
    ) -> bool:
        """Give a claimed handoff back to the queue for another attempt, not before `delay_seconds`
        (`attempt=False`: not counted as an attempt: a worker that stops gives back the one it holds, and a
        handoff that found its server down waits it out; `outage_since`: when that outage began for it)."""
        handoff.moved_to("pending")
        values: dict[str, Any] = {} if outage_since is None else {"outage_since": outage_since}
        with self._session() as session:
            result = _updated(
                session,
                update(HandoffRow)
                .where(
                    col(HandoffRow.id) == handoff.id,
                    col(HandoffRow.lease_owner) == worker,
                    col(HandoffRow.state) == "claimed",
                )
                .values(
                    state="pending",
                    lease_owner=None,
                    attempt=HandoffRow.attempt + (1 if attempt else 0),
                    error=error[:2000],
                    lease_expires=_now() + timedelta(seconds=delay_seconds),
                    **values,
                ),
            )
            session.commit()
            return bool(result == 1)

    def renew_lease(self, handoff_id: str, worker: str, lease_seconds: float) -> bool:
        with self._session() as session:
            result = _updated(
                session,
                update(HandoffRow)
                .where(
                    col(HandoffRow.id) == handoff_id,
                    col(HandoffRow.lease_owner) == worker,
                    col(HandoffRow.state) == "claimed",
                )
                .values(lease_expires=_now() + timedelta(seconds=lease_seconds)),
            )
            session.commit()
            return bool(result == 1)

    def finish(
        self,
        handoff: Handoff,
        worker: str,
        *,
        state: str,
        next_handoffs: Sequence[Handoff] = (),
        run_status: RunStatus | None = None,
        result: dict[str, Any] | None = None,
        reason: str = "",
        usage: Sequence[tuple[str, Usage]] = (),
        tool_calls: int = 0,
        approvals: Sequence[ApprovalRow] = (),
        audit: Sequence[AuditRecord] = (),
        exchanges: Sequence[ExchangeRecord] = (),
        error: str = "",
        then_claim: float | None = None,
        prior: Claim | None = None,
    ) -> Finished:
        """Record the outcome of a claimed handoff in one transaction (not if `worker` lost the lease).
        With `then_claim` (a lease in seconds), claim the worker's next handoff in the same transaction:
        the run's own next handoff if there is one (with `prior`, the claim this outcome is of), else the
        oldest claimable one.

        Core statements, not the ORM: this runs once per handoff, and the ORM's unit of work cost
        more than the SQL itself."""
        handoff.moved_to(state)  # type: ignore[arg-type]  # refuses an illegal move before touching the store
        now = _now()
        with self.engine.begin() as connection:
            moved = connection.execute(
                self._sql.finish_handoff,
                {"handoff_id": handoff.id, "worker": worker, "new_state": state, "error": error[:2000]},
            ).rowcount
            if moved != 1:
                return Finished(recorded=False)  # another worker holds it now; nothing was changed
            # With `then_claim`, the run's next handoff stays with this worker (claimed under a fresh lease):
            # no claim query, and a ticket goes through its steps without waiting behind older ones.
            sticky = then_claim is not None and prior is not None and len(next_handoffs) == 1
            rows = [self._row(nxt) for nxt in next_handoffs]
            if sticky:
                assert then_claim is not None
                rows[0].update(state="claimed", lease_owner=worker, lease_expires=now + timedelta(seconds=then_claim))
            if rows:
                connection.execute(_INSERT[_HANDOFF], rows)
            merged: dict[str, Any] | None = None
            if result:
                # the run's results as claimed (only the lease holder writes them), else as stored
                before: dict[str, Any] | None = (
                    prior.run_result
                    if prior is not None
                    else connection.execute(self._sql.run_result, {"run_id": handoff.run_id}).scalar_one_or_none()
                )
                merged = {**(before or {}), **result}
            ended = run_status is not None and run_status != "running"
            values: dict[str, Any] = {
                "run_id": handoff.run_id,
                "status": run_status,
                "reason": reason,
                "finished_at": now if ended else None,
                "updated_at": now,
                "add_tool_calls": tool_calls,
                "add_tokens": sum(u.total_tokens for _, u in usage),
                "add_cost": sum(u.cost_usd for _, u in usage),
                "add_iterations": len(usage),
            }
            if merged is not None:
                updated = connection.execute(self._sql.update_run_result, {**values, "result": merged})
            else:
                updated = connection.execute(self._sql.update_run, values)
            if updated.rowcount != 1:
                raise NotFound(f"run {handoff.run_id!r} not found")
            if usage:
                connection.execute(
                    _INSERT[_USAGE],
                    [
                        {
                            "run_id": handoff.run_id,
                            "tenant": handoff.tenant,
                            "specialist": specialist,
                            "model": u.model,
                            "input_tokens": u.input_tokens,
                            "output_tokens": u.output_tokens,
                            "cache_tokens": u.cache_creation_tokens + u.cache_read_tokens,
                            "cost_usd": u.cost_usd,
                            "at": now,
                        }
                        for specialist, u in usage
                    ],
                )
            if approvals:
                connection.execute(_INSERT[_APPROVAL], [_values(row) for row in approvals])
            claimed: Claim | None = None
            if sticky:
                assert prior is not None
                claimed = prior.following(next_handoffs[0], result)
            elif then_claim is not None:
                claimed = self._claim(connection, worker, then_claim)
        self._records.add(audit, exchanges)
        self._spent(handoff.tenant, sum(u.cost_usd for _, u in usage))
        return Finished(recorded=True, next=claimed)

    def exchanges(self, run_id: str) -> list[ExchangeRow]:
        self._records.flush()
        with self._session() as session:
            return list(
                session.exec(
                    select(ExchangeRow).where(ExchangeRow.run_id == run_id).order_by(col(ExchangeRow.seq))
                ).all()
            )

    # -- approvals ------------------------------------------------------------------------------

    def approvals(
        self, *, tenant: str | None = None, status: str | None = "pending", run_id: str | None = None
    ) -> list[ApprovalRow]:
        with self._session() as session:
            query = select(ApprovalRow)
            if tenant:
                query = query.where(ApprovalRow.tenant == tenant)
            if run_id:
                query = query.where(ApprovalRow.run_id == run_id)
            if status:
                query = query.where(ApprovalRow.status == status)
            return list(session.exec(query.order_by(col(ApprovalRow.created_at))).all())

    def approval(self, approval_id: str) -> ApprovalRow:
        with self._session() as session:
            row = session.get(ApprovalRow, approval_id)
        if row is None:
            raise NotFound(f"approval {approval_id!r} not found")
        return row

    def decide(self, approval_id: str, tenant: str, *, approve: bool, actor: str, seen_hash: str | None) -> ApprovalRow:
        """Move a pending approval of `tenant` to approved or rejected (expired if past its deadline), exactly
        once: one conditional UPDATE, so of concurrent deciders one wins and the others get a `Conflict`, and
        a decision is never overwritten. `seen_hash` is the arguments' hash the approver was shown; a decision
        naming another hash changes nothing (None only for the coordinator's own expiry)."""
        now = _now()
        with self.engine.begin() as connection:
            decided = (
                connection.execute(
                    update(_APPROVAL)
                    .where(
                        _APPROVAL.c.id == approval_id,
                        _APPROVAL.c.tenant == tenant,
                        _APPROVAL.c.status == "pending",
                        _APPROVAL.c.args_hash == (seen_hash if seen_hash is not None else _APPROVAL.c.args_hash),
                    )
                    .values(
                        status=case(
                            (_APPROVAL.c.expires_at < now, "expired"), else_="approved" if approve else "rejected"
                        ),
                        decided_by=actor,
                        decided_at=now,
                    )
                    .returning(*_APPROVAL.c)
                )
                .mappings()
                .first()
            )
            if decided is None:
                raise self._undecidable(connection, approval_id, tenant, seen_hash)
            connection.execute(
                _INSERT[_AUDIT],
                {
                    "at": now,
                    "tenant": tenant,
                    "run_id": decided["run_id"],
                    "actor": actor,
                    "specialist": "",
                    "tool": decided["tool"],
                    "args_hash": decided["args_hash"],
                    "decision": f"approval {decided['status']}",
                    "outcome": approval_id,
                },
            )
        return ApprovalRow.model_validate(dict(decided))

    @staticmethod
    def _undecidable(connection: Connection, approval_id: str, tenant: str, seen_hash: str | None) -> DeskhandError:
        """Why a decision changed nothing: no such approval of this tenant, already decided, or another hash."""
        row = connection.execute(_APPROVAL.select().where(_APPROVAL.c.id == approval_id)).mappings().first()
        if row is None or row["tenant"] != tenant:
            return NotFound(f"approval {approval_id!r} not found")
        if row["status"] != "pending":
            return Conflict(f"approval {approval_id} was already {row['status']}", field="status")
        return Conflict(
            f"approval {approval_id}: the arguments' hash given ({seen_hash}) is not the one of the call waiting "
            f"for a decision ({row['args_hash']}); look at the call again (`deskhand approvals show {approval_id}`)",
            field="args_hash",
        )

    def record_approval_result(
        self, approval_id: str, result: dict[str, Any], status: str, audit: Sequence[AuditRecord] = ()
    ) -> ApprovalRow:
        """Record what an approved call did (`executed` or `failed`), with its audit entries, in one
        transaction; only an approval that is `approved` (and not yet recorded) moves."""
        with self.engine.begin() as connection:
            moved = (
                connection.execute(
                    update(_APPROVAL)
                    .where(_APPROVAL.c.id == approval_id, _APPROVAL.c.status == "approved")
                    .values(result=result, status=status)
                    .returning(*_APPROVAL.c)
                )
                .mappings()
                .first()
            )
            if moved is None:
                raise Conflict(f"approval {approval_id} is not waiting for its result", field="status")
            if audit:
                connection.execute(_INSERT[_AUDIT], list(audit))
        return ApprovalRow.model_validate(dict(moved))

    def set_run(
        self, run_id: str, *, status: RunStatus, reason: str = "", result: dict[str, Any] | None = None
    ) -> None:
        with self._session() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                raise NotFound(f"run {run_id!r} not found")
            run.status, run.updated_at = status, _now()
            if status != "running":
                run.finished_at = _now()
            if reason:
                run.reason = reason
            if result:
                run.result = {**run.result, **result}
            session.add(run)
            session.commit()

    def audit(self, entry: AuditEntry) -> None:
        with self._session() as session:
            session.add(entry)
            session.commit()

    def audit_trail(self, run_id: str) -> list[AuditEntry]:
        self._records.flush()
        with self._session() as session:
            return list(
                session.exec(
                    select(AuditEntry)
                    .where(AuditEntry.run_id == run_id)
                    .order_by(col(AuditEntry.at), col(AuditEntry.seq))
                ).all()
            )

    def handoffs(self, run_id: str) -> list[HandoffRow]:
        with self._session() as session:
            return list(
                session.exec(select(HandoffRow).where(HandoffRow.run_id == run_id).order_by(col(HandoffRow.step))).all()
            )

    def pending_count(self) -> int:
        with self._session() as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(HandoffRow)
                    .where(col(HandoffRow.state).in_(["pending", "claimed"]))
                ).one()
            )
