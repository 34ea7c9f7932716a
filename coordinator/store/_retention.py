"""Retention: a store's exchanges and audit entries past a window, counted or deleted, never those of a run in
flight; the prune recorded by an audit entry of its own (which later prunes keep)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select
from sqlalchemy.sql import ColumnElement

from coordinator.store._sql import AUDIT, EXCHANGE, INSERT, RUN, aware, now

IN_FLIGHT = ("running", "awaiting_approval")
"""Run statuses of runs that may still act: their records are never pruned."""
PRUNED = "pruned"
"""The decision of the audit entry a prune writes about itself (tenant `*`: it spans every tenant)."""


@dataclass(frozen=True)
class InFlight:
    """The runs still in flight when a prune starts: how many, and when the oldest of them started."""

    count: int
    oldest: datetime | None


class Retention:
    """Counting and deleting what is past a window; reading what is still in flight."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._in_flight_ids = select(RUN.c.id).where(RUN.c.status.in_(IN_FLIGHT))

    def in_flight(self) -> InFlight:
        with self._engine.begin() as connection:
            count, oldest = connection.execute(
                select(func.count(), func.min(RUN.c.created_at)).where(RUN.c.status.in_(IN_FLIGHT))
            ).one()
        return InFlight(int(count), aware(oldest))

    def in_flight_ids(self) -> list[str]:
        with self._engine.begin() as connection:
            return [row[0] for row in connection.execute(self._in_flight_ids)]

    def prune(
        self, before: datetime, *, actor: str, dry_run: bool, record: Mapping[str, Any] | None = None
    ) -> dict[str, int]:
        """Delete the exchanges of runs that finished before `before` and the audit entries older than it (but
        none of a run in flight, nor an earlier prune's), and record the prune with `record` (what else it
        pruned) beside its own counts, in one transaction; with `dry_run`, only count."""
        finished = select(RUN.c.id).where(
            RUN.c.status.not_in(IN_FLIGHT), func.coalesce(RUN.c.finished_at, RUN.c.updated_at) < before
        )
        exchanges = EXCHANGE.c.run_id.in_(finished)
        audit = (AUDIT.c.at < before) & AUDIT.c.run_id.not_in(self._in_flight_ids) & (AUDIT.c.decision != PRUNED)
        with self._engine.begin() as connection:
            counts = {
                "coord_exchange": _count(connection, EXCHANGE, exchanges),
                "coord_audit": _count(connection, AUDIT, audit),
            }
            if dry_run:
                return counts
            connection.execute(delete(EXCHANGE).where(exchanges))
            connection.execute(delete(AUDIT).where(audit))
            outcome = {"before": before.isoformat(), "coordinator": counts, **(record or {})}
            connection.execute(
                INSERT[AUDIT],
                {
                    "at": now(),
                    "tenant": "*",
                    "run_id": "",
                    "actor": actor,
                    "specialist": "",
                    "tool": "",
                    "args_hash": "",
                    "decision": PRUNED,
                    "outcome": json.dumps(outcome, sort_keys=True),
                },
            )
        return counts


def _count(connection: Connection, table: Table, where: ColumnElement[bool]) -> int:
    return int(connection.execute(select(func.count()).select_from(table).where(where)).scalar_one())
