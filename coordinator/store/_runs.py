"""Runs: one per inbound event (per tenant and source), started with its first handoff, read and ended."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from coordinator.store._queue import handoff_row
from coordinator.store._sql import now, session
from coordinator.store._tables import AuditEntry, HandoffRow, RunRow, WorkflowRow
from schemas import Handoff, NotFound, RunBudget, RunStatus


def new_trace() -> str:
    """A W3C traceparent for a new run: version 00, random trace and span ids, sampled."""
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


class Runs:
    """Starting, reading and ending runs; a handoff's outcome updates its run in `Outcomes`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._saved_workflows: set[str] = set()

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
        """The run for this event, and whether it is new. One run per (tenant, source): re-submitting
        the same email, or listing the same inbox twice, does not process it twice. `result`: the run's results
        to start with (the workflow a run of another event than an email goes through); `trace`: the W3C traceparent
        of the span the run starts in (its root span, when traces are on), else `new_trace()`."""
        at = now()
        run_id = f"R-{uuid.uuid4().hex[:16]}"
        trace = trace or new_trace()
        handoff = Handoff(
            run_id=run_id, tenant=tenant, sender="intake", recipient=first, payload=event, budget=budget, trace=trace
        )
        with session(self._engine) as opened:
            opened.add(
                RunRow(
                    id=run_id,
                    tenant=tenant,
                    source_key=source_key,
                    status="running",
                    event=event,
                    result=result or {},
                    trace=trace,
                    created_at=at,
                    updated_at=at,
                )
            )
            opened.add(HandoffRow(**handoff_row(handoff)))
            opened.add(
                AuditEntry(
                    at=at, tenant=tenant, run_id=run_id, actor="intake", decision="run started", outcome=source_key
                )
            )
            try:
                opened.commit()
            except IntegrityError:
                opened.rollback()
                existing = opened.exec(
                    select(RunRow).where(RunRow.tenant == tenant, RunRow.source_key == source_key)
                ).one()
                return existing.id, False
        return run_id, True

    def save_workflow(self, version: str, name: str, definition: dict[str, Any]) -> None:
        """Keep a workflow version (once: a version is its content's hash)."""
        if version in self._saved_workflows:
            return
        with session(self._engine) as opened:
            if opened.get(WorkflowRow, version) is not None:
                self._saved_workflows.add(version)
                return
            opened.add(WorkflowRow(version=version, name=name, definition=definition, created_at=now()))
            try:
                opened.commit()
            except IntegrityError:  # saved by another process meanwhile: the same content
                opened.rollback()
        self._saved_workflows.add(version)

    def workflow_definition(self, version: str) -> dict[str, Any] | None:
        with session(self._engine) as opened:
            row = opened.get(WorkflowRow, version)
        return None if row is None else dict(row.definition)

    def run(self, run_id: str, *, tenant: str | None = None) -> RunRow:
        with session(self._engine) as opened:
            row = opened.get(RunRow, run_id)
        if row is None or (tenant is not None and row.tenant != tenant):
            raise NotFound(f"run {run_id!r} not found")
        return row

    def runs(
        self,
        *,
        tenant: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        newest_first: bool = False,
        limit: int = 1000,
    ) -> list[RunRow]:
        with session(self._engine) as opened:
            order = col(RunRow.created_at).desc() if newest_first else col(RunRow.created_at)
            query = _filtered(tenant, status, since).order_by(order).limit(limit)
            return list(opened.exec(query).all())

    def page(
        self,
        *,
        tenant: str | None,
        status: str | None,
        since: datetime | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[RunRow]:
        """Runs newest first by (created_at, id), those before `after` only: a page that runs started later
        cannot shift (keyset pagination)."""
        with session(self._engine) as opened:
            query = _filtered(tenant, status, since)
            if after is not None:
                at, run_id = after
                query = query.where(
                    or_(col(RunRow.created_at) < at, and_(col(RunRow.created_at) == at, col(RunRow.id) < run_id))
                )
            order = (col(RunRow.created_at).desc(), col(RunRow.id).desc())
            return list(opened.exec(query.order_by(*order).limit(limit)).all())

    def status_counts(self, tenant: str) -> dict[str, int]:
        """How many runs of the tenant are in each status."""
        with session(self._engine) as opened:
            rows = opened.exec(
                select(RunRow.status, func.count()).where(RunRow.tenant == tenant).group_by(col(RunRow.status))
            ).all()
        return {status: int(count) for status, count in rows}

    def running_runs(self, tenant: str) -> int:
        with session(self._engine) as opened:
            return int(
                opened.exec(
                    select(func.count()).select_from(RunRow).where(RunRow.tenant == tenant, RunRow.status == "running")
                ).one()
            )

    def set_run(
        self, run_id: str, *, status: RunStatus, reason: str = "", result: dict[str, Any] | None = None
    ) -> None:
        with session(self._engine) as opened:
            run = opened.get(RunRow, run_id)
            if run is None:
                raise NotFound(f"run {run_id!r} not found")
            run.status, run.updated_at = status, now()
            if status != "running":
                run.finished_at = now()
            if reason:
                run.reason = reason
            if result:
                run.result = {**run.result, **result}
            opened.add(run)
            opened.commit()


def _filtered(tenant: str | None, status: str | None, since: datetime | None) -> SelectOfScalar[RunRow]:
    """Runs of a tenant, in a status, created at or after `since` (each filter only when given)."""
    query = select(RunRow)
    if tenant:
        query = query.where(RunRow.tenant == tenant)
    if status:
        query = query.where(RunRow.status == status)
    if since is not None:
        query = query.where(col(RunRow.created_at) >= since)
    return query
