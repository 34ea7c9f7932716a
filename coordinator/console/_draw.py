"""The console's pictures as plain geometry, computed on the server: a run's timeline as bars placed by
their offset from the run's start, and a tenant's cost per day as an SVG bar chart. No script draws them,
so a page reads the same without JavaScript and a test can check the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from coordinator.store import DayUsage


@dataclass(frozen=True)
class Bar:
    """One row of a timeline: what ran, from `left`% to `left + width`% of the run's span."""

    label: str
    detail: str
    state: str
    left: float
    width: float
    seconds: float | None
    depth: int


def _moment(iso: str | None) -> datetime | None:
    return None if iso is None else datetime.fromisoformat(iso)


def _span(start: datetime, shown: dict[str, Any]) -> float:
    """How long the picture is: until the run finished, else until the last thing that happened."""
    ends = [_moment(shown["run"]["finished"])]
    ends += [_moment(h["finished"]) for h in shown["handoffs"]]
    ends += [_moment(h["started"]) for h in shown["handoffs"]]
    seconds = [(end - start).total_seconds() for end in ends if end is not None]
    return max([*seconds, 0.001])


def timeline(shown: dict[str, Any]) -> list[Bar]:
    """The bars of a run (as `coordinator.views.describe` gives it): each handoff, and under it the model
    judgments and tool calls of its step where their times are known."""
    start = _moment(shown["run"]["created"])
    if start is None:
        return []
    span = _span(start, shown)
    bars: list[Bar] = []
    for handoff in shown["handoffs"]:
        began = _moment(handoff["started"])
        offset = 0.0 if began is None else max((began - start).total_seconds(), 0.0)
        took = handoff["duration_s"]
        bars.append(
            Bar(
                label=f"{handoff['step']}. {handoff['specialist']}",
                detail=f"attempt {handoff['attempt']}" + (f", {handoff['error']}" if handoff["error"] else ""),
                state=handoff["state"],
                left=round(100 * offset / span, 2),
                width=round(max(100 * (took or 0.0) / span, 0.6), 2),
                seconds=took,
                depth=0,
            )
        )
        for call in shown["exchanges"]:
            if call["step"] != handoff["step"]:
                continue
            called = _moment(call.get("started"))
            at = offset if called is None else max((called - start).total_seconds(), 0.0)
            seconds = call.get("duration_s")
            bars.append(
                Bar(
                    label=f"{call['kind']} {call['name']}",
                    detail=call["result"],
                    state="error" if call["error"] else "ok",
                    left=round(100 * at / span, 2),
                    width=round(max(100 * (seconds or 0.0) / span, 0.4), 2),
                    seconds=seconds,
                    depth=1,
                )
            )
    return bars


@dataclass(frozen=True)
class Column:
    day: date
    x: float
    height: float
    cost_usd: float
    runs: int


@dataclass(frozen=True)
class Chart:
    """A tenant's cost per day: one column a day (days without runs at zero), scaled to the largest."""

    tenant: str
    columns: list[Column]
    top_usd: float
    width: int
    height: int
    column_width: float


def cost_charts(usage: list[DayUsage], *, today: date, days: int, width: int = 560, height: int = 140) -> list[Chart]:
    """One chart per tenant that had runs in the window, in tenant order."""
    by_tenant: dict[str, dict[date, DayUsage]] = {}
    for row in usage:
        by_tenant.setdefault(row.tenant, {})[row.day] = row
    first = today - timedelta(days=days - 1)
    step = width / days
    charts = []
    for tenant in sorted(by_tenant):
        seen = by_tenant[tenant]
        top = max((u.cost_usd for u in seen.values()), default=0.0) or 1.0
        columns = []
        for index in range(days):
            day = first + timedelta(days=index)
            found = seen.get(day)
            cost = found.cost_usd if found else 0.0
            columns.append(
                Column(
                    day=day,
                    x=round(index * step + step * 0.15, 2),
                    height=round((height - 20) * cost / top, 2),
                    cost_usd=cost,
                    runs=sum(found.runs.values()) if found else 0,
                )
            )
        charts.append(Chart(tenant, columns, top, width, height, round(step * 0.7, 2)))
    return charts
