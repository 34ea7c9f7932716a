"""A handoff's outcome, recorded in one transaction: its state, the next handoffs, its run, the usage and the
approvals it parked, and (with `then_claim`) the worker's next claim. Only the lease holder can record it: a
worker that lost its lease is fenced off. The audit entries and exchanges go to the records writer after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, func, update
from sqlmodel import select

from coordinator.store._queue import Claim, Queue, handoff_row
from coordinator.store._records import RecordWriter
from coordinator.store._spend import Spend
from coordinator.store._sql import APPROVAL, HANDOFF, INSERT, RUN, USAGE, now, values
from coordinator.store._tables import ApprovalRow, AuditRecord, ExchangeRecord
from schemas import Handoff, HandoffState, NotFound, RunStatus
from specialists.kit import Usage


@dataclass(frozen=True)
class Outcome:
    """What `worker` made of the handoff it holds, for `Store.finish` to record."""

    handoff: Handoff
    worker: str
    _: KW_ONLY
    state: HandoffState
    """The handoff's new state (a legal move from `claimed`)."""
    next_handoffs: Sequence[Handoff] = ()
    run_status: RunStatus | None = None
    """The run's new status; None leaves it as it is."""
    result: dict[str, Any] | None = None
    """What this handoff adds to the run's results."""
    reason: str = ""
    usage: Sequence[tuple[str, Usage]] = ()
    """The model calls it made, by specialist."""
    tool_calls: int = 0
    approvals: Sequence[ApprovalRow] = ()
    """The calls it parked for a person's decision."""
    audit: Sequence[AuditRecord] = ()
    exchanges: Sequence[ExchangeRecord] = ()
    error: str = ""
    then_claim: float | None = None
    """A lease in seconds: claim the worker's next handoff in the same transaction."""
    prior: Claim | None = None
    """The claim this outcome is of: with `then_claim`, the run's one next handoff stays with the worker."""


@dataclass(frozen=True)
class Finished:
    """What `Store.finish` did."""

    recorded: bool
    """False if the worker had lost the handoff's lease: nothing was changed."""
    next: Claim | None = None
    """The worker's next handoff, claimed in the same transaction (with `then_claim`)."""
    run_cost_usd: float | None = None
    """What the run's model calls cost in all, when this outcome ended the run (for its metrics)."""


class Outcomes:
    """Records outcomes with Core statements built once, not the ORM: this runs once per handoff, and the
    ORM's unit of work cost more than the SQL itself."""

    def __init__(self, engine: Engine, queue: Queue, records: RecordWriter, spend: Spend, *, postgres: bool) -> None:
        self._engine = engine
        self._queue = queue
        self._records = records
        self._spend = spend
        self._finish_handoff = (
            update(HANDOFF)
            .where(
                HANDOFF.c.id == bindparam("handoff_id"),
                HANDOFF.c.lease_owner == bindparam("worker"),
                HANDOFF.c.state == "claimed",
            )
            .values(
                state=bindparam("new_state"),
                lease_expires=None,
                error=bindparam("error"),
                finished_at=bindparam("finished_at"),
            )
        )
        read = select(RUN.c.result).where(RUN.c.id == bindparam("run_id"))
        self._run_result = read.with_for_update() if postgres else read
        # the run's counters add up; status, reason and end time change only when given (NULL keeps them)
        run_values: dict[str, Any] = {
            "status": func.coalesce(bindparam("status", type_=RUN.c.status.type), RUN.c.status),
            "reason": func.coalesce(func.nullif(bindparam("reason", type_=RUN.c.reason.type), ""), RUN.c.reason),
            "finished_at": func.coalesce(bindparam("finished_at", type_=RUN.c.finished_at.type), RUN.c.finished_at),
            "updated_at": bindparam("updated_at", type_=RUN.c.updated_at.type),
            "tool_calls": RUN.c.tool_calls + bindparam("add_tool_calls"),
            "tokens": RUN.c.tokens + bindparam("add_tokens"),
            "cost_usd": RUN.c.cost_usd + bindparam("add_cost"),
            "iterations": RUN.c.iterations + bindparam("add_iterations"),
        }
        run = update(RUN).where(RUN.c.id == bindparam("run_id"))
        self._update_run = run.values(**run_values)
        self._update_run_result = run.values(**run_values, result=bindparam("result", type_=RUN.c.result.type))
        # a run's last outcome reads its total cost back in the same statement
        self._end_run = self._update_run.returning(RUN.c.cost_usd)
        self._end_run_result = self._update_run_result.returning(RUN.c.cost_usd)

    def finish(self, outcome: Outcome) -> Finished:
        """Record `outcome` in one transaction (not if its worker lost the lease). With `then_claim`, claim
        the worker's next handoff in the same transaction: the run's own next handoff if there is one (with
        `prior`), else the oldest claimable one."""
        handoff, worker, then_claim, prior = outcome.handoff, outcome.worker, outcome.then_claim, outcome.prior
        handoff.moved_to(outcome.state)  # refuses an illegal move before touching the store
        at = now()
        with self._engine.begin() as connection:
            moved = connection.execute(
                self._finish_handoff,
                {
                    "handoff_id": handoff.id,
                    "worker": worker,
                    "new_state": outcome.state,
                    "error": outcome.error[:2000],
                    "finished_at": at,
                },
            ).rowcount
            if moved != 1:
                return Finished(recorded=False)  # another worker holds it now; nothing was changed
            # With `then_claim`, the run's next handoff stays with this worker (claimed under a fresh lease):
            # no claim query, and a ticket goes through its steps without waiting behind older ones.
            sticky = then_claim is not None and prior is not None and len(outcome.next_handoffs) == 1
            rows = [handoff_row(nxt) for nxt in outcome.next_handoffs]
            if sticky:
                assert then_claim is not None
                rows[0].update(
                    state="claimed", lease_owner=worker, lease_expires=at + timedelta(seconds=then_claim), started_at=at
                )
            if rows:
                connection.execute(INSERT[HANDOFF], rows)
            merged: dict[str, Any] | None = None
            if outcome.result:
                # the run's results as claimed (only the lease holder writes them), else as stored
                before: dict[str, Any] | None = (
                    prior.run_result
                    if prior is not None
                    else connection.execute(self._run_result, {"run_id": handoff.run_id}).scalar_one_or_none()
                )
                merged = {**(before or {}), **outcome.result}
            ended = outcome.run_status is not None and outcome.run_status != "running"
            run_values: dict[str, Any] = {
                "run_id": handoff.run_id,
                "status": outcome.run_status,
                "reason": outcome.reason,
                "finished_at": at if ended else None,
                "updated_at": at,
                "add_tool_calls": outcome.tool_calls,
                "add_tokens": sum(u.total_tokens for _, u in outcome.usage),
                "add_cost": sum(u.cost_usd for _, u in outcome.usage),
                "add_iterations": len(outcome.usage),
            }
            run_cost: float | None = None
            if ended:
                if merged is not None:
                    ending = connection.execute(self._end_run_result, {**run_values, "result": merged})
                else:
                    ending = connection.execute(self._end_run, run_values)
                cost = ending.scalar_one_or_none()
                if cost is None:
                    raise NotFound(f"run {handoff.run_id!r} not found")
                run_cost = float(cost)
            else:
                if merged is not None:
                    updated = connection.execute(self._update_run_result, {**run_values, "result": merged})
                else:
                    updated = connection.execute(self._update_run, run_values)
                if updated.rowcount != 1:
                    raise NotFound(f"run {handoff.run_id!r} not found")
            if outcome.usage:
                connection.execute(
                    INSERT[USAGE],
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
                            "at": at,
                        }
                        for specialist, u in outcome.usage
                    ],
                )
            if outcome.approvals:
                connection.execute(INSERT[APPROVAL], [values(row) for row in outcome.approvals])
            claimed: Claim | None = None
            if sticky:
                assert prior is not None
                claimed = prior.following(outcome.next_handoffs[0], outcome.result)
            elif then_claim is not None:
                claimed = self._queue.claim_in(connection, worker, then_claim)
        self._records.add(outcome.audit, outcome.exchanges)
        self._spend.spent(handoff.tenant, sum(u.cost_usd for _, u in outcome.usage))
        return Finished(recorded=True, next=claimed, run_cost_usd=run_cost)
