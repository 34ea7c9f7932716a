"""Approvals: a parked tool call waits for a person's decision, which is taken exactly once, and then for
what the approved call did."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, case, update
from sqlmodel import col, select

from coordinator.store._sql import APPROVAL, AUDIT, INSERT, now, session
from coordinator.store._tables import ApprovalRow, AuditRecord
from schemas import Conflict, DeskhandError, NotFound


class Approvals:
    """Reading and deciding approvals; a handoff's outcome parks new ones in `Outcomes`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def approvals(
        self, *, tenant: str | None = None, status: str | None = "pending", run_id: str | None = None
    ) -> list[ApprovalRow]:
        with session(self._engine) as opened:
            query = select(ApprovalRow)
            if tenant:
                query = query.where(ApprovalRow.tenant == tenant)
            if run_id:
                query = query.where(ApprovalRow.run_id == run_id)
            if status:
                query = query.where(ApprovalRow.status == status)
            return list(opened.exec(query.order_by(col(ApprovalRow.created_at))).all())

    def approval(self, approval_id: str) -> ApprovalRow:
        with session(self._engine) as opened:
            row = opened.get(ApprovalRow, approval_id)
        if row is None:
            raise NotFound(f"approval {approval_id!r} not found")
        return row

    def decide(self, approval_id: str, tenant: str, *, approve: bool, actor: str, seen_hash: str | None) -> ApprovalRow:
        """Move a pending approval of `tenant` to approved or rejected (expired if past its deadline), exactly
        once: one conditional UPDATE, so of concurrent deciders one wins and the others get a `Conflict`, and
        a decision is never overwritten. `seen_hash` is the arguments' hash the approver was shown; a decision
        naming another hash changes nothing (None only for the coordinator's own expiry)."""
        at = now()
        with self._engine.begin() as connection:
            decided = (
                connection.execute(
                    update(APPROVAL)
                    .where(
                        APPROVAL.c.id == approval_id,
                        APPROVAL.c.tenant == tenant,
                        APPROVAL.c.status == "pending",
                        APPROVAL.c.args_hash == (seen_hash if seen_hash is not None else APPROVAL.c.args_hash),
                    )
                    .values(
                        status=case(
                            (APPROVAL.c.expires_at < at, "expired"), else_="approved" if approve else "rejected"
                        ),
                        decided_by=actor,
                        decided_at=at,
                    )
                    .returning(*APPROVAL.c)
                )
                .mappings()
                .first()
            )
            if decided is None:
                raise _undecidable(connection, approval_id, tenant, seen_hash)
            connection.execute(
                INSERT[AUDIT],
                {
                    "at": at,
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

    def record_approval_result(
        self, approval_id: str, result: dict[str, Any], status: str, audit: Sequence[AuditRecord] = ()
    ) -> ApprovalRow:
        """Record what an approved call did (`executed` or `failed`), with its audit entries, in one
        transaction; only an approval that is `approved` (and not yet recorded) moves."""
        with self._engine.begin() as connection:
            moved = (
                connection.execute(
                    update(APPROVAL)
                    .where(APPROVAL.c.id == approval_id, APPROVAL.c.status == "approved")
                    .values(result=result, status=status)
                    .returning(*APPROVAL.c)
                )
                .mappings()
                .first()
            )
            if moved is None:
                raise Conflict(f"approval {approval_id} is not waiting for its result", field="status")
            if audit:
                connection.execute(INSERT[AUDIT], list(audit))
        return ApprovalRow.model_validate(dict(moved))


def _undecidable(connection: Connection, approval_id: str, tenant: str, seen_hash: str | None) -> DeskhandError:
    """Why a decision changed nothing: no such approval of this tenant, already decided, or another hash."""
    row = connection.execute(APPROVAL.select().where(APPROVAL.c.id == approval_id)).mappings().first()
    if row is None or row["tenant"] != tenant:
        return NotFound(f"approval {approval_id!r} not found")
    if row["status"] != "pending":
        return Conflict(f"approval {approval_id} was already {row['status']}", field="status")
    return Conflict(
        f"approval {approval_id}: the arguments' hash given ({seen_hash}) is not the one of the call waiting "
        f"for a decision ({row['args_hash']}); look at the call again (`deskhand approvals show {approval_id}`)",
        field="args_hash",
    )
