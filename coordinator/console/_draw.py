"""The console's pictures as plain geometry, computed on the server: a run's timeline as bars placed by
their offset from the run's start, and a tenant's cost and tokens per day as SVG bar charts. No script draws them,
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
        waited = f"waited {step['waited_s']:.3f} s in the queue, " if step.get("waited_s") else ""
        detail = f"{waited}attempt {step['attempt']}" + (f", {step['error']}" if step["error"] else "")
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
    value: float
    runs: int


@dataclass(frozen=True)
class Chart:
    """One measure of a tenant per day (days without runs at zero), scaled to its largest day; `top` 0: nothing."""

    tenant: str
    measure: str
    columns: list[Column]
    top: float
    width: int
    height: int
    column_width: float


MEASURES = {"cost": "cost per day (USD)", "tokens": "tokens per day"}


def usage_charts(usage: list[DayUsage], *, today: date, days: int, width: int = 560, height: int = 120) -> list[Chart]:
    """For each tenant that had runs in the window, in tenant order: its cost per day, then its tokens per day."""
    by_tenant: dict[str, dict[date, DayUsage]] = {}
    for row in usage:
        by_tenant.setdefault(row.tenant, {})[row.day] = row
    first = today - timedelta(days=days - 1)
    step = width / days
    charts = []
    for tenant in sorted(by_tenant):
        seen = by_tenant[tenant]
        for measure in MEASURES:
            values = {day: float(u.cost_usd if measure == "cost" else u.tokens) for day, u in seen.items()}
            top = max(values.values(), default=0.0)
            columns = []
            for index in range(days):
                day = first + timedelta(days=index)
                value = values.get(day, 0.0)
                columns.append(
                    Column(
                        day=day,
                        x=round(index * step + step * 0.15, 2),
                        height=round((height - 20) * value / top, 2) if top else 0.0,
                        value=value,
                        runs=sum(seen[day].runs.values()) if day in seen else 0,
                    )
                )
            charts.append(Chart(tenant, MEASURES[measure], columns, top, width, height, round(step * 0.7, 2)))
    return charts
