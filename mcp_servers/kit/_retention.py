"""Retention: the kit's own rows (audit, idempotency) older than a cut-off, counted or deleted.

Pruning is an explicit act of the operator, not a silence: unless it only counts, it writes an audit row of
its own in the same transaction (tool `retention.prune`, the operator as subject and actor, the cut-offs and
counts hashed as its arguments), and a later prune never removes those rows.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, delete, func, inspect, or_, select
from sqlalchemy.sql import ColumnElement

from mcp_servers.kit._audit import AuditRecord, hash_and_size
from mcp_servers.kit._server import IdempotencyRecord
from mcp_servers.kit._storage import Database, table_of

PRUNE_TOOL = "retention.prune"
"""The tool name of the audit row a prune writes about itself."""

_AUDIT = table_of(AuditRecord)
_IDEMPOTENCY = table_of(IdempotencyRecord)


@dataclass(frozen=True)
class Pruned:
    """How many rows of each of the kit's tables a prune removed (or, with `dry_run`, would remove)."""

    audit_log: int
    idempotency_record: int


def prune_records(
    db: Database,
    *,
    audit_before: datetime,
    idempotency_before: datetime,
    keep_runs: Collection[str] = (),
    actor: str,
    dry_run: bool = False,
) -> Pruned:
    """Delete the audit rows older than `audit_before` (except those of `keep_runs`, and earlier prunes' own)
    and the idempotency records older than `idempotency_before`, in one transaction, and audit it; with
    `dry_run`, only count them. A database without the kit's tables has nothing to prune."""
    started = time.perf_counter()
    with db.engine.begin() as connection:
        present = set(inspect(connection).get_table_names())
        audit = _audit_rows(audit_before, keep_runs) if _AUDIT.name in present else None
        idempotency = _IDEMPOTENCY.c.created_at < idempotency_before if _IDEMPOTENCY.name in present else None
        pruned = Pruned(_count(connection, _AUDIT, audit), _count(connection, _IDEMPOTENCY, idempotency))
        if dry_run or audit is None:  # the kit creates both tables together: no audit table, no kit here
            return pruned
        connection.execute(delete(_AUDIT).where(audit))
        if idempotency is not None:
            connection.execute(delete(_IDEMPOTENCY).where(idempotency))
        what = {
            "audit_before": audit_before.isoformat(),
            "idempotency_before": idempotency_before.isoformat(),
            "audit_log": pruned.audit_log,
            "idempotency_record": pruned.idempotency_record,
        }
        connection.execute(
            _AUDIT.insert().values(
                at=datetime.now(UTC),
                tenant_id=None,
                subject=actor,
                actor=actor,
                tool=PRUNE_TOOL,
                args_hash=hash_and_size(what)[0],
                outcome="allowed",
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        )
    return pruned


def _audit_rows(before: datetime, keep_runs: Collection[str]) -> ColumnElement[bool]:
    condition = (_AUDIT.c.at < before) & (_AUDIT.c.tool != PRUNE_TOOL)
    if keep_runs:
        condition &= or_(_AUDIT.c.run_id.is_(None), _AUDIT.c.run_id.not_in(list(keep_runs)))
    return condition


def _count(connection: Connection, table: Table, where: ColumnElement[bool] | None) -> int:
    if where is None:
        return 0
    return int(connection.execute(select(func.count()).select_from(table).where(where)).scalar_one())
