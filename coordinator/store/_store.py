"""The store: runs, handoffs with leases, approvals, the usage ledger and the audit trail.

SQLite by default (one process; workers are tasks), PostgreSQL by URL (any number of worker
processes). A worker claims the oldest pending handoff (or one whose lease expired: its worker
died) with a lease; on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two workers never claim the
same one. Finishing a handoff (its state, the next handoffs, the run, the usage) is one
transaction, and only the lease holder can do it (a worker that lost its lease is fenced off).
All methods are synchronous; the async runtime calls them in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, and_, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coordinator.store._migrations import migrate
from coordinator.store._tables import ApprovalRow, AuditEntry, ExchangeRow, HandoffRow, RunRow, UsageRow
from mcp_servers.kit import Database
from schemas import Conflict, Handoff, NotFound, RunBudget, RunStatus
from specialists.kit import Usage


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _updated(session: Session, statement: Any) -> int:
    """Run an UPDATE; how many rows it changed."""
    statement = statement.execution_options(synchronize_session=False)
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount)


def new_trace() -> str:
    """A W3C traceparent for a new run: version 00, random trace and span ids, sampled."""
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


def args_hash(arguments: Any) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Store:
    def __init__(self, url: str) -> None:
        # The kit's engine set-up: SQLite in WAL mode (a commit does not wait for a full fsync), psycopg for PostgreSQL.
        self._database = Database(url)
        self.engine: Engine = self._database.engine
        self.url = url
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.version = migrate(self.engine)

    def dispose(self) -> None:
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
            session.add(self._row(handoff))
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

    def spend_today(self, tenant: str) -> float:
        start = _now().replace(hour=0, minute=0, second=0, microsecond=0)
        with self._session() as session:
            total = session.exec(
                select(func.coalesce(func.sum(UsageRow.cost_usd), 0.0)).where(
                    UsageRow.tenant == tenant, UsageRow.at >= start
                )
            ).one()
        return float(total)

    # -- handoffs -------------------------------------------------------------------------------

    @staticmethod
    def _row(handoff: Handoff) -> HandoffRow:
        return HandoffRow(
            id=handoff.id,
            run_id=handoff.run_id,
            tenant=handoff.tenant,
            sender=handoff.sender,
            recipient=handoff.recipient,
            state=handoff.state,
            attempt=handoff.attempt,
            step=handoff.step,
            payload=handoff.payload,
            budget=handoff.budget.model_dump(),
            trace=handoff.trace,
            created_at=handoff.created_at,
        )

    @staticmethod
    def handoff_of(row: HandoffRow) -> Handoff:
        """The frozen envelope of a row, validated."""
        return Handoff(
            id=row.id,
            run_id=row.run_id,
            tenant=row.tenant,
            sender=row.sender,
            recipient=row.recipient,
            state=row.state,
            attempt=row.attempt,
            step=row.step,
            payload=row.payload,
            budget=RunBudget.model_validate(row.budget),
            trace=row.trace,
            created_at=_aware(row.created_at),
        )

    def claim(self, worker: str, lease_seconds: float) -> Handoff | None:
        """Claim the oldest claimable handoff for `worker`: pending, or claimed under an expired lease."""
        now = _now()
        claimable = or_(
            and_(
                col(HandoffRow.state) == "pending",
                or_(col(HandoffRow.lease_expires).is_(None), col(HandoffRow.lease_expires) < now),
            ),
            and_(col(HandoffRow.state) == "claimed", col(HandoffRow.lease_expires) < now),
        )
        with self._session() as session:
            query = select(HandoffRow).where(claimable).order_by(col(HandoffRow.created_at)).limit(1)
            if self.is_postgres:
                query = query.with_for_update(skip_locked=True)
            row = session.exec(query).first()
            if row is None:
                return None
            reclaimed = row.state == "claimed"
            result = _updated(
                session,
                update(HandoffRow)
                .where(col(HandoffRow.id) == row.id, claimable)
                .values(
                    state="claimed",
                    lease_owner=worker,
                    lease_expires=now + timedelta(seconds=lease_seconds),
                    attempt=HandoffRow.attempt + (1 if reclaimed else 0),
                ),
            )
            if result != 1:  # another worker (SQLite: another task) got it first
                session.rollback()
                return None
            session.commit()
            session.refresh(row)
        return self.handoff_of(row)

    def release(self, handoff: Handoff, worker: str, error: str, delay_seconds: float) -> bool:
        """Give a claimed handoff back to the queue for another attempt, not before `delay_seconds`."""
        handoff.moved_to("pending")
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
                    attempt=HandoffRow.attempt + 1,
                    error=error[:2000],
                    lease_expires=_now() + timedelta(seconds=delay_seconds),
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
        audit: Sequence[AuditEntry] = (),
        exchanges: Sequence[ExchangeRow] = (),
        error: str = "",
    ) -> bool:
        """Record the outcome of a claimed handoff in one transaction. False if `worker` lost the lease."""
        handoff.moved_to(state)  # type: ignore[arg-type]  # refuses an illegal move before touching the store
        now = _now()
        with self._session() as session:
            moved = _updated(
                session,
                update(HandoffRow)
                .where(
                    col(HandoffRow.id) == handoff.id,
                    col(HandoffRow.lease_owner) == worker,
                    col(HandoffRow.state) == "claimed",
                )
                .values(state=state, lease_expires=None, error=error[:2000]),
            )
            if moved != 1:
                session.rollback()
                return False
            for nxt in next_handoffs:
                session.add(self._row(nxt))
            run = session.get(RunRow, handoff.run_id, with_for_update=self.is_postgres)
            if run is None:
                raise NotFound(f"run {handoff.run_id!r} not found")
            if result:
                run.result = {**run.result, **result}
            if run_status is not None:
                run.status = run_status
                if run_status != "running":
                    run.finished_at = now
            if reason:
                run.reason = reason
            for specialist, u in usage:
                session.add(
                    UsageRow(
                        run_id=run.id,
                        tenant=run.tenant,
                        specialist=specialist,
                        model=u.model,
                        input_tokens=u.input_tokens,
                        output_tokens=u.output_tokens,
                        cache_tokens=u.cache_creation_tokens + u.cache_read_tokens,
                        cost_usd=u.cost_usd,
                        at=now,
                    )
                )
                run.tokens += u.total_tokens
                run.cost_usd += u.cost_usd
                run.iterations += 1
            run.tool_calls += tool_calls
            run.updated_at = now
            session.add(run)
            for approval in approvals:
                session.add(approval)
            for entry in audit:
                session.add(entry)
            for exchange in exchanges:
                session.add(exchange)
            session.commit()
        return True

    def exchanges(self, run_id: str) -> list[ExchangeRow]:
        with self._session() as session:
            return list(
                session.exec(
                    select(ExchangeRow).where(ExchangeRow.run_id == run_id).order_by(col(ExchangeRow.seq))
                ).all()
            )

    # -- approvals ------------------------------------------------------------------------------

    def approvals(self, *, tenant: str | None = None, status: str | None = "pending") -> list[ApprovalRow]:
        with self._session() as session:
            query = select(ApprovalRow)
            if tenant:
                query = query.where(ApprovalRow.tenant == tenant)
            if status:
                query = query.where(ApprovalRow.status == status)
            return list(session.exec(query.order_by(col(ApprovalRow.created_at))).all())

    def approval(self, approval_id: str) -> ApprovalRow:
        with self._session() as session:
            row = session.get(ApprovalRow, approval_id)
        if row is None:
            raise NotFound(f"approval {approval_id!r} not found")
        return row

    def decide(self, approval_id: str, tenant: str, *, approve: bool, actor: str) -> ApprovalRow:
        """Move a pending approval of `tenant` to approved or rejected, once (a second decision is a Conflict)."""
        now = _now()
        with self._session() as session:
            row = session.get(ApprovalRow, approval_id, with_for_update=self.is_postgres)
            if row is None or row.tenant != tenant:
                raise NotFound(f"approval {approval_id!r} not found")
            if row.status != "pending":
                raise Conflict(f"approval {approval_id} was already {row.status}", field="status")
            expired = _aware(row.expires_at) is not None and _aware(row.expires_at) < now  # type: ignore[operator]
            row.status = "expired" if expired else ("approved" if approve else "rejected")
            row.decided_by, row.decided_at = actor, now
            session.add(row)
            session.add(
                AuditEntry(
                    at=now,
                    tenant=tenant,
                    run_id=row.run_id,
                    actor=actor,
                    tool=row.tool,
                    args_hash=row.args_hash,
                    decision=f"approval {row.status}",
                    outcome=approval_id,
                )
            )
            session.commit()
        return row

    def record_approval_result(self, approval_id: str, result: dict[str, Any], status: str) -> None:
        with self._session() as session:
            row = session.get(ApprovalRow, approval_id)
            if row is None:
                raise NotFound(f"approval {approval_id!r} not found")
            row.result, row.status = result, status
            session.add(row)
            session.commit()

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
        with self._session() as session:
            return list(
                session.exec(select(AuditEntry).where(AuditEntry.run_id == run_id).order_by(col(AuditEntry.seq))).all()
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
