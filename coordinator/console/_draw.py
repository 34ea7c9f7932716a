"""The console's pictures as plain geometry, computed on the server: a run's timeline as bars placed by
their offset from the run's start, and a tenant's cost per day as an SVG bar chart. No script draws them,
so a page reads the same without JavaScript and a test can check the numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
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


def _end(item: dict[str, Any]) -> float:
    return (item["offset_s"] or 0.0) + (item["duration_s"] or 0.0)


def timeline(shown: dict[str, Any]) -> list[Bar]:
    """The bars of a run (as `coordinator.views.describe` gives it): each step in the order it started, and under
    it its model judgments and tool calls, placed by their offsets from the run's start; the picture spans the
    run, or what has happened of it so far."""
    steps = shown["timeline"]
    ends = [_end(step) for step in steps] + [_end(call) for step in steps for call in step["calls"]]
    span = max([shown["run"]["duration_s"] or 0.0, *ends, 0.001])
    bars: list[Bar] = []
    for step in steps:
        detail = f"attempt {step['attempt']}" + (f", {step['error']}" if step["error"] else "")
        bars.append(_bar(step, f"{step['step']}. {step['specialist']}", detail, step["state"], span, 0))
        for call in step["calls"]:
            state = "error" if call["error"] else "ok"
            bars.append(_bar(call, f"{call['kind']} {call['name']}", call["result"], state, span, 1))
    return bars


def _bar(item: dict[str, Any], label: str, detail: str, state: str, span: float, depth: int) -> Bar:
    left = min(100 * (item["offset_s"] or 0.0) / span, 99.6)
    width = min(max(100 * (item["duration_s"] or 0.0) / span, 0.4), 100 - left)
    return Bar(label, detail, state, round(left, 2), round(width, 2), item["duration_s"], depth)


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
