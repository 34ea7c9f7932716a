"""`python -m bench all|boundary [--size tiny|small|full] [--json OUT]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from bench import _boundary, _e2e, _memory


def _print(console: Console, report: dict[str, Any]) -> None:
    _print_boundary(console, report.get("boundary"))
    for name in ("e2e", "memory"):
        if name in report:
            table = Table(
                title={"e2e": "End to end through the coordinator", "memory": "Memory under load"}[name],
                title_justify="left",
            )
            table.add_column("figure")
            table.add_column("value", justify="right")
            for key, value in report[name].items():
                table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
            console.print(table)


def _print_boundary(console: Console, boundary: dict[str, Any] | None) -> None:
    if not boundary:
        return
    table = Table(title="The price of the boundary: guarded read vs bare MCP SDK tool, same SQL", title_justify="left")
    for column in (
        "transport",
        "bare p50 ms",
        "guarded p50 ms",
        "ratio",
        "bare p99 ms",
        "guarded p99 ms",
        "guarded p50 min–max",
    ):
        table.add_column(column, justify="right")
    for transport in ("in_memory", "http"):
        r = boundary[transport]
        low, high = r["min_max_guarded_p50_ms"]
        table.add_row(
            transport,
            f"{r['bare']['p50_ms']:.3f}",
            f"{r['guarded']['p50_ms']:.3f}",
            f"{r['ratio_p50_guarded_to_bare']:.2f}",
            f"{r['bare']['p99_ms']:.3f}",
            f"{r['guarded']['p99_ms']:.3f}",
            f"{low:.3f}–{high:.3f}",
        )
    console.print(table)
    throughput = Table(title="HTTP throughput (calls/s), concurrent sessions", title_justify="left")
    for column in ("sessions", "bare", "guarded", "ratio"):
        throughput.add_column(column, justify="right")
    for sessions, r in boundary["http_throughput"].items():
        throughput.add_row(
            sessions,
            f"{r['bare_calls_per_s']:.0f}",
            f"{r['guarded_calls_per_s']:.0f}",
            f"{r['ratio_guarded_to_bare']:.2f}",
        )
    console.print(throughput)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("which", choices=["all", "boundary", "e2e", "memory"], nargs="?", default="all")
    parser.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    parser.add_argument("--json", type=Path, default=Path("bench-report.json"))
    args = parser.parse_args()
    report: dict[str, Any] = {"size": args.size}
    if args.which in ("all", "boundary"):
        report["boundary"] = anyio.run(_boundary.run, args.size)
    if args.which in ("all", "e2e"):
        report["e2e"] = anyio.run(_e2e.run, args.size)
        bare = report.get("boundary", {}).get("http", {}).get("bare", {}).get("calls_per_s")
        if bare:
            limit = bare / report["e2e"]["mcp_calls_per_ticket"]
            report["e2e"]["bare_limit_tickets_per_s"] = limit
            report["e2e"]["ratio_to_bare_limit"] = report["e2e"]["tickets_per_s"] / limit
    if args.which in ("all", "memory"):
        report["memory"] = anyio.run(_memory.run, args.size)
    _print(Console(), report)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report written to {args.json}")


if __name__ == "__main__":
    main()
