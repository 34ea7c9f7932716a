"""The handoff queue: a worker claims a handoff with a lease, renews it, gives it back, or loses it.

A claim takes a handoff whose lease expired (its worker died), else the oldest pending one that is due; on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, so two workers never claim the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Connection, Engine, and_, bindparam, case, func, or_, update
from sqlalchemy.sql.dml import ReturningUpdate
from sqlmodel import col, select

from coordinator.store._sql import HANDOFF, RUN, aware, now, session, updated
from coordinator.store._tables import HandoffRow
from schemas import Handoff, RunBudget


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


def handoff_row(handoff: Handoff) -> dict[str, Any]:
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
        "started_at": None,
        "finished_at": None,
    }


def handoff_of(row: Mapping[Any, Any]) -> Handoff:
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
        created_at=aware(row["created_at"]),
    )


def _claim_statement(postgres: bool) -> ReturningUpdate[Any]:
    """One UPDATE … RETURNING that claims the next handoff, built once (building a statement costs more than
    running it)."""
    now_: BindParameter[datetime] = bindparam("now")
    claimable = or_(
        and_(HANDOFF.c.state == "pending", or_(HANDOFF.c.lease_expires.is_(None), HANDOFF.c.lease_expires < now_)),
        and_(HANDOFF.c.state == "claimed", HANDOFF.c.lease_expires < now_),
    )
    # Which one: a handoff whose worker stopped renewing its lease (walking `ix_handoff_claim` from the
    # longest expired), else the oldest pending one that is due (walking `ix_handoff_queue` in creation
    # order). Each walk stops at its first match, so a claim costs the same with a backlog of ten or of
    # ten thousand; one "oldest of both" query had to gather and sort the whole backlog every time.
    abandoned = (
        select(HANDOFF.c.id)
        .where(HANDOFF.c.state == "claimed", HANDOFF.c.lease_expires < now_)
        .order_by(HANDOFF.c.lease_expires)
        .limit(1)
    )
    due = (
        select(HANDOFF.c.id)
        .where(HANDOFF.c.state == "pending", or_(HANDOFF.c.lease_expires.is_(None), HANDOFF.c.lease_expires < now_))
        .order_by(HANDOFF.c.created_at)
        .limit(1)
    )
    if postgres:  # two workers never wait for, or take, the same one
        abandoned = abandoned.with_for_update(skip_locked=True)
        due = due.with_for_update(skip_locked=True)
    return (
        update(HANDOFF)
        .where(HANDOFF.c.id == func.coalesce(abandoned.scalar_subquery(), due.scalar_subquery()), claimable)
        .values(
            state="claimed",
            lease_owner=bindparam("worker"),
            lease_expires=bindparam("expires"),
            started_at=now_,
            # a claimed handoff taken over after its lease expired is another attempt
            attempt=HANDOFF.c.attempt + case((HANDOFF.c.state == "claimed", 1), else_=0),
            takeovers=HANDOFF.c.takeovers + case((HANDOFF.c.state == "claimed", 1), else_=0),
        )
        .returning(*HANDOFF.c)
    )


class Queue:
    """Claiming, renewing and giving back handoffs; only the lease holder moves a claimed one."""

    def __init__(self, engine: Engine, *, postgres: bool) -> None:
        self._engine = engine
        self._claim = _claim_statement(postgres)
        self._run_start = select(RUN.c.result, RUN.c.created_at).where(RUN.c.id == bindparam("run_id"))

    def claim(self, worker: str, lease_seconds: float) -> Claim | None:
        """Claim a handoff for `worker`: one claimed under an expired lease (its worker is gone), else the
        oldest pending one that is due, with what its run has produced so far: one UPDATE … RETURNING
        and one read, in one transaction."""
        with self._engine.begin() as connection:
            return self.claim_in(connection, worker, lease_seconds)

    def claim_in(self, connection: Connection, worker: str, lease_seconds: float) -> Claim | None:
        """`claim`, inside a transaction already open on `connection`."""
        at = now()
        row = (
            connection.execute(
                self._claim, {"now": at, "worker": worker, "expires": at + timedelta(seconds=lease_seconds)}
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        run = connection.execute(self._run_start, {"run_id": row["run_id"]}).one()
        return Claim(
            handoff_of(row),
            dict(run.result),
            cast(datetime, aware(run.created_at)),
            takeovers=row["takeovers"],
            outage_since=aware(row["outage_since"]),
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
        with session(self._engine) as opened:
            result = updated(
                opened,
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
                    lease_expires=now() + timedelta(seconds=delay_seconds),
                    **values,
                ),
            )
            opened.commit()
            return bool(result == 1)

    def renew_lease(self, handoff_id: str, worker: str, lease_seconds: float) -> bool:
        with session(self._engine) as opened:
            result = updated(
                opened,
                update(HandoffRow)
                .where(
                    col(HandoffRow.id) == handoff_id,
                    col(HandoffRow.lease_owner) == worker,
                    col(HandoffRow.state) == "claimed",
                )
                .values(lease_expires=now() + timedelta(seconds=lease_seconds)),
            )
            opened.commit()
            return bool(result == 1)

    def handoffs(self, run_id: str) -> list[HandoffRow]:
        with session(self._engine) as opened:
            return list(
                opened.exec(select(HandoffRow).where(HandoffRow.run_id == run_id).order_by(col(HandoffRow.step))).all()
            )

    def pending_count(self) -> int:
        with session(self._engine) as opened:
            return int(
                opened.exec(
                    select(func.count())
                    .select_from(HandoffRow)
                    .where(col(HandoffRow.state).in_(["pending", "claimed"]))
                ).one()
            )
