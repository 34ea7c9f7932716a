"""The store: runs, handoffs with leases, approvals, the usage ledger and the audit trail.

SQLite by default (one process; workers are tasks), PostgreSQL by URL (any number of worker
processes). `Store` is the one object callers hold; each concern lives in its own part:

- `_queue`: claiming handoffs under leases, renewing and giving them back;
- `_runs`: starting, reading and ending runs; `_spend`: each tenant's spend today;
- `_outcome`: a handoff's outcome (its state, next handoffs, run, usage, approvals), one transaction;
- `_approvals`: deciding parked calls exactly once; `_retention`: pruning records past a window;
  `_gauges`: what the store holds right now (queue, leases, approvals, spend), for scrapes;
  `_records`: the audit trail and exchange log,
  written behind the per-handoff path (queued, and committed every 50 ms by a thread of the store's own;
  reading them, or disposing of the store, writes what is queued first; a hard crash loses at most the
  last 50 ms).

All methods are synchronous; the async runtime calls the per-handoff ones on its event loop for SQLite
(sub-millisecond transactions) and in a worker thread for PostgreSQL (see `Runtime.stored`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from coordinator.store import _sql
from coordinator.store._approvals import Approvals
from coordinator.store._gauges import Snapshot, snapshot
from coordinator.store._migrations import migrate
from coordinator.store._outcome import Finished, Outcome, Outcomes
from coordinator.store._queue import Claim, Queue
from coordinator.store._records import Records
from coordinator.store._reports import DayUsage, FailedCall, Reports
from coordinator.store._retention import InFlight, Retention
from coordinator.store._runs import Runs
from coordinator.store._spend import Spend
from coordinator.store._tables import ApprovalRow, AuditEntry, AuditRecord, ExchangeRow, HandoffRow, RunRow
from mcp_servers.kit import Database
from schemas import Handoff, RunBudget, RunStatus


class Store:
    """The coordinator's store over one database (migrated to the latest schema on opening), composed of
    one part per concern; each method below is its part's."""

    def __init__(self, url: str) -> None:
        # The kit's engine set-up: SQLite in WAL mode (a commit does not wait for a full fsync), psycopg for PostgreSQL.
        self.database = Database(url, pre_ping=True)  # a worker has no retry around a dropped connection
        self.engine: Engine = self.database.engine
        self.url = url
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.version = migrate(self.engine)
        self._runs = Runs(self.engine)
        self._queue = Queue(self.engine, postgres=self.is_postgres)
        self._approvals = Approvals(self.engine)
        self._records = Records(self.engine)
        self._spend = Spend(self.engine)
        self._reports = Reports(self.engine)
        self._retention = Retention(self.engine)
        self._outcomes = Outcomes(
            self.engine, self._queue, self._records.writer, self._spend, postgres=self.is_postgres
        )

    def dispose(self) -> None:
        self._records.close()
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with _sql.session(self.engine) as session:
            yield session

    # -- runs -----------------------------------------------------------------------------------

    def start_run(
        self,
        tenant: str,
        source_key: str,
        event: dict[str, Any],
        first: str,
        budget: RunBudget,
        result: dict[str, Any] | None = None,
        *,
        trace: str | None = None,
    ) -> tuple[str, bool]:
        """The run for this event, and whether it is new; `result` is what the run's results start with, `trace`
        the W3C `traceparent` of the span it starts in (default: new random ids)."""
        return self._runs.start_run(tenant, source_key, event, first, budget, result, trace=trace)

    def save_workflow(self, version: str, name: str, definition: dict[str, Any]) -> None:
        self._runs.save_workflow(version, name, definition)

    def workflow_definition(self, version: str) -> dict[str, Any] | None:
        """The stored definition of a workflow version some run started on (None: not stored)."""
        return self._runs.workflow_definition(version)

    def run(self, run_id: str, *, tenant: str | None = None) -> RunRow:
        return self._runs.run(run_id, tenant=tenant)

    def runs(
        self,
        *,
        tenant: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        newest_first: bool = False,
        limit: int = 1000,
    ) -> list[RunRow]:
        """Runs, oldest first (`newest_first`: the latest first), of a tenant, a status, created at or after `since`."""
        return self._runs.runs(tenant=tenant, status=status, since=since, newest_first=newest_first, limit=limit)

    def runs_page(
        self,
        *,
        tenant: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[RunRow]:
        """Runs newest first by (created_at, id), from just before `after` (the last row of the previous page)."""
        return self._runs.page(tenant=tenant, status=status, since=since, after=after, limit=limit)

    def run_status_counts(self, tenant: str) -> dict[str, int]:
        return self._runs.status_counts(tenant)

    def usage_today(self, tenant: str) -> tuple[int, float]:
        """The tokens and USD of the tenant's model calls today (UTC), read now."""
        return self._spend.usage_today(tenant)

    def running_runs(self, tenant: str) -> int:
        return self._runs.running_runs(tenant)

    def set_run(
        self, run_id: str, *, status: RunStatus, reason: str = "", result: dict[str, Any] | None = None
    ) -> None:
        self._runs.set_run(run_id, status=status, reason=reason, result=result)

    def spend_today(self, tenant: str, *, fresh_within: float = 0.0) -> float:
        return self._spend.today(tenant, fresh_within=fresh_within)

    def cached_spend(self, tenant: str, fresh_within: float) -> float | None:
        return self._spend.cached(tenant, fresh_within)

    # -- handoffs -------------------------------------------------------------------------------

    def claim(self, worker: str, lease_seconds: float) -> Claim | None:
        return self._queue.claim(worker, lease_seconds)

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
        return self._queue.release(handoff, worker, error, delay_seconds, attempt=attempt, outage_since=outage_since)

    def renew_lease(self, handoff_id: str, worker: str, lease_seconds: float) -> bool:
        return self._queue.renew_lease(handoff_id, worker, lease_seconds)

    def finish(self, outcome: Outcome) -> Finished:
        return self._outcomes.finish(outcome)

    def handoffs(self, run_id: str) -> list[HandoffRow]:
        return self._queue.handoffs(run_id)

    def pending_count(self) -> int:
        return self._queue.pending_count()

    # -- approvals ------------------------------------------------------------------------------

    def approvals(
        self, *, tenant: str | None = None, status: str | None = "pending", run_id: str | None = None
    ) -> list[ApprovalRow]:
        return self._approvals.approvals(tenant=tenant, status=status, run_id=run_id)

    def approval(self, approval_id: str) -> ApprovalRow:
        return self._approvals.approval(approval_id)

    def decide(self, approval_id: str, tenant: str, *, approve: bool, actor: str, seen_hash: str | None) -> ApprovalRow:
        return self._approvals.decide(approval_id, tenant, approve=approve, actor=actor, seen_hash=seen_hash)

    def record_approval_result(
        self, approval_id: str, result: dict[str, Any], status: str, audit: Sequence[AuditRecord] = ()
    ) -> ApprovalRow:
        return self._approvals.record_approval_result(approval_id, result, status, audit)

    # -- audit and exchanges --------------------------------------------------------------------

    def audit(self, entry: AuditEntry) -> None:
        self._records.audit(entry)

    def audit_trail(self, run_id: str) -> list[AuditEntry]:
        return self._records.audit_trail(run_id)

    def exchanges(self, run_id: str) -> list[ExchangeRow]:
        return self._records.exchanges(run_id)

    # -- reports --------------------------------------------------------------------------------
    def daily_usage(self, *, tenant: str | None = None, days: int = 14) -> list[DayUsage]:
        return self._reports.daily(tenant=tenant, days=days)

    def failed_calls(self, *, tenant: str | None = None, since: datetime, limit: int = 100) -> list[FailedCall]:
        return self._reports.failed_calls(tenant=tenant, since=since, limit=limit)

    def snapshot(self) -> Snapshot:
        """The queue's depth, the leases held, the approvals waiting and each tenant's spend today, read now."""
        return snapshot(self.engine)

    # -- retention ------------------------------------------------------------------------------
    def in_flight(self) -> InFlight:
        """The runs still in flight (running or awaiting approval): how many, and when the oldest started."""
        return self._retention.in_flight()

    def in_flight_ids(self) -> list[str]:
        return self._retention.in_flight_ids()

    def prune(
        self, before: datetime, *, actor: str, dry_run: bool = False, record: dict[str, Any] | None = None
    ) -> dict[str, int]:
        """Remove finished runs' exchanges and audit entries older than `before` (`dry_run`: count them), and
        audit the prune with `record`; counts by table."""
        self._records.writer.flush()
        return self._retention.prune(before, actor=actor, dry_run=dry_run, record=record)
