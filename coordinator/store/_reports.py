"""Reports over many runs, for people watching a deployment: runs, tokens and cost per tenant per day, and
the tool calls that were refused or failed. Aggregated in SQL, so a day of many runs costs one row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Engine, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from coordinator.store._sql import EXCHANGE, RUN, aware, now


@dataclass(frozen=True)
class DayUsage:
    """A tenant's runs of one UTC day: how many ended each way, and what they used."""

    day: date
    tenant: str
    runs: dict[str, int]
    tokens: int
    cost_usd: float


@dataclass(frozen=True)
class FailedCall:
    """A tool call that came back with an error (refused at a boundary, or failed), as the run recorded it."""

    run_id: str
    tenant: str
    at: datetime | None
    """When the call was made (None in a store older than call times: the run's start then)."""
    specialist: str
    tool: str
    code: str
    message: str


class Reports:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def _day(self) -> ColumnElement[Any]:
        if self._postgres:  # the UTC day, whatever the session's time zone
            return cast(func.timezone("UTC", RUN.c.created_at), Date)
        return func.date(RUN.c.created_at)  # SQLite keeps UTC times as text

    def daily(self, *, tenant: str | None, days: int) -> list[DayUsage]:
        """Each tenant's runs per UTC day over the last `days` days (today included), by status, oldest first;
        a day without runs has no row."""
        today = now().date()
        start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=days - 1)
        day = self._day().label("day")
        query = (
            select(
                day,
                RUN.c.tenant,
                RUN.c.status,
                func.count().label("runs"),
                func.coalesce(func.sum(RUN.c.tokens), 0).label("tokens"),
                func.coalesce(func.sum(RUN.c.cost_usd), 0.0).label("cost"),
            )
            .where(RUN.c.created_at >= start)
            .group_by(day, RUN.c.tenant, RUN.c.status)
        )
        if tenant is not None:
            query = query.where(RUN.c.tenant == tenant)
        merged: dict[tuple[date, str], DayUsage] = {}
        with self._engine.connect() as connection:
            for row in connection.execute(query):
                when = row.day if isinstance(row.day, date) else date.fromisoformat(str(row.day))
                seen = merged.get((when, row.tenant)) or DayUsage(when, row.tenant, {}, 0, 0.0)
                merged[(when, row.tenant)] = DayUsage(
                    when,
                    row.tenant,
                    {**seen.runs, row.status: int(row.runs)},
                    seen.tokens + int(row.tokens),
                    seen.cost_usd + float(row.cost),
                )
        return sorted(merged.values(), key=lambda u: (u.day, u.tenant))

    def failed_calls(self, *, tenant: str | None, since: datetime, limit: int = 100) -> list[FailedCall]:
        """Tool calls of runs created since `since` that came back with an error, newest run first."""
        query = (
            select(
                EXCHANGE.c.run_id,
                RUN.c.tenant,
                RUN.c.created_at,
                EXCHANGE.c.at,
                EXCHANGE.c.specialist,
                EXCHANGE.c.name,
                EXCHANGE.c.response,
            )
            .join(RUN, RUN.c.id == EXCHANGE.c.run_id)
            .where(EXCHANGE.c.kind == "tool", EXCHANGE.c.error.is_(True), RUN.c.created_at >= since)
            .order_by(RUN.c.created_at.desc(), EXCHANGE.c.seq)
            .limit(limit)
        )
        if tenant is not None:
            query = query.where(RUN.c.tenant == tenant)
        with self._engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            FailedCall(
                run_id=row.run_id,
                tenant=row.tenant,
                at=aware(row.at or row.created_at),
                specialist=row.specialist,
                tool=row.name,
                code=str((row.response or {}).get("code", "")),
                message=str((row.response or {}).get("message", ""))[:300],
            )
            for row in rows
        ]
