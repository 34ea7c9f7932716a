"""`python -m bench all|boundary|e2e|memory|scale [--size tiny|small|full] [--json OUT]`, and the crash campaign
`python -m bench chaos [--size tiny|small] [--kills N]` (not part of `all`)."""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console
from rich.table import Table

from bench import _boundary, _chaos, _e2e, _memory, _scale
from bench._progress import progress_bar
from bench._telemetry import MODES, telemetry


def _print(console: Console, report: dict[str, Any]) -> None:
    console.print(f"telemetry: {report.get('telemetry', 'off')}", highlight=False)
    _print_boundary(console, report.get("boundary"))
    _print_e2e(console, report.get("e2e"))
    _print_memory(console, report.get("memory"))
    if "scale" in report:
        _scale.print_report(console, report["scale"])


E2E_ROWS = (
    ("tickets/s, 1 worker", "tickets_per_s_1_worker", ".2f"),
    ("tickets/s, 4 workers", "tickets_per_s_4_workers", ".2f"),
    ("MCP calls per ticket", "mcp_calls_per_ticket", ".2f"),
    ("handoffs per ticket", "handoffs_per_ticket", ".2f"),
    ("bare SDK calls/s, 1 session", "bare_calls_per_s_1_session", ".0f"),
    ("bare SDK calls/s, 4 sessions", "bare_calls_per_s_4_sessions", ".0f"),
    ("÷ bare limit, 1 worker", "ratio_to_bare_limit_1_worker", ".3f"),
    ("÷ bare limit, 4 workers", "ratio_to_bare_limit_4_workers", ".3f"),
    ("coordinator ms per handoff", "coordinator_overhead_ms_per_handoff", ".3f"),
    ("coordinator per handoff ÷ one bare call", "coordinator_overhead_to_bare_call", ".3f"),
    ("the calls alone, 4 at a time: calls/s", "calls_alone_per_s_4_workers", ".0f"),
    ("the calls alone: share that failed", "calls_alone_failed_share", ".3f"),
    ("the calls alone ÷ bare, 4 at a time (the ceiling)", "calls_alone_to_bare_4_workers", ".3f"),
    ("4 workers ÷ the calls alone", "e2e_to_calls_alone_4_workers", ".3f"),
)


def _print_e2e(console: Console, e2e: dict[str, Any] | None) -> None:
    if not e2e:
        return
    table = Table(
        title=f"End to end: {e2e['tickets_per_pass']} tickets a pass, median of {e2e['repeats']} (min–max)",
        title_justify="left",
    )
    table.caption = (
        "bare limit = bare SDK calls/s ÷ MCP calls per ticket, measured in the same run. The calls alone: the "
        "4-worker pass's MCP calls again, through the same sessions, with no runtime"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, key, fmt in E2E_ROWS:
        low, high = e2e[f"{key}_min_max"]
        table.add_row(label, f"{e2e[key]:{fmt}} ({low:{fmt}}–{high:{fmt}})")
    console.print(table)

    goals = e2e["targets"]
    targets = Table(title="The targets (medians; never asserted)", title_justify="left")
    targets.caption = (
        "* as first set, shown, not targets: the 4-worker ratio to the bare limit is bounded by the calls alone ÷ "
        "bare (which moves with the machine), and milliseconds move with the machine's speed"
    )
    for column in ("target", "value", ""):
        targets.add_column(column, justify="right" if column == "value" else "left")
    floor, keeps = goals["ratio_to_bare_limit_at_least"], goals["e2e_to_calls_alone_4_workers_at_least"]
    ms, per_call = goals["coordinator_ms_per_handoff_at_most"], goals["coordinator_per_handoff_to_bare_call_at_most"]
    for figure, key, op, bound in (
        ("1 worker ÷ bare limit", "ratio_to_bare_limit_1_worker", "≥", floor),
        ("4 workers ÷ the calls alone", "e2e_to_calls_alone_4_workers", "≥", keeps),
        ("coordinator per handoff ÷ one bare call", "coordinator_overhead_to_bare_call", "≤", per_call),
        ("* 4 workers ÷ bare limit", "ratio_to_bare_limit_4_workers", "≥", floor),
        ("* coordinator ms per handoff", "coordinator_overhead_ms_per_handoff", "≤", ms),
    ):
        value = e2e[key]
        targets.add_row(f"{figure} {op} {bound:g}", *_against(value, value >= bound if op == "≥" else value <= bound))
    console.print(targets)


def _print_memory(console: Console, memory: dict[str, Any] | None) -> None:
    if not memory:
        return
    table = Table(
        title=(
            f"Memory: RSS MiB of each process, {memory['tenants']} tenants, {memory['tickets']} tickets, "
            f"{memory['mcp_calls']} MCP calls"
        ),
        title_justify="left",
    )
    table.caption = f"session sets open at the end: {memory['session_sets_open_at_end']} (the pool is bounded)"
    for column in ("process", "warm", "¼", "½", "¾", "all", "all ÷ ½", "all ÷ warm"):
        table.add_column(column, justify="left" if column == "process" else "right")
    for name, samples in memory["rss_kib"].items():
        table.add_row(
            name,
            *(f"{kib / 1024:.1f}" for kib in samples),
            f"{memory['growth_second_half'][name]:.3f}",
            f"{memory['growth_from_warmup'][name]:.3f}",
        )
    console.print(table)
    cpu = Table(title="CPU ms per MCP call of each process, by quarter of the load", title_justify="left")
    cpu.caption = "flat: no cost that grows with the data stored (quarter 4 ÷ quarter 2 ≈ 1)"
    for column in ("process", "¼", "½", "¾", "all", "all ÷ ½"):
        cpu.add_column(column, justify="left" if column == "process" else "right")
    for name, per_call in memory["cpu_ms_per_call"].items():
        cpu.add_row(name, *(f"{ms:.2f}" for ms in per_call), f"{memory['cpu_growth_second_half'][name]:.3f}")
    console.print(cpu)


def _print_boundary(console: Console, boundary: dict[str, Any] | None) -> None:
    """Four tables, each fitting 80 columns: sequential calls, throughput, ratios, and the issue's targets."""
    if not boundary:
        return
    kinds = ("bare", "bare_async", "guarded", "fastmcp")
    runs = f"median of {boundary['repeats']} interleaved runs, min–max below"
    sequential = Table(
        title=f"The price of the boundary: one session, {boundary['calls']} sequential calls ({runs})",
        title_justify="left",
    )
    client = ", ".join(f"{k} {boundary['http'][k]['client_cpu_ms_per_call']:.2f}" for k in kinds)
    sequential.caption = (
        "CPU: the server process's (HTTP); client and server, one process (in memory).\n"
        f"The SDK client's own CPU ms/call over HTTP, the same client for all: {client}"
    )
    for column in ("over", "server", "p50 ms", "p99 ms", "calls/s", "CPU ms/call"):
        sequential.add_column(column, justify="left" if column in ("over", "server") else "right")
    for transport, key, cpu in (
        ("memory", "in_memory", "process_cpu_ms_per_call"),
        ("HTTP", "http", "server_cpu_ms_per_call"),
    ):
        for kind in kinds:
            if kind in boundary[key]:
                f = boundary[key][kind]
                sequential.add_row(
                    transport,
                    kind,
                    _spread(f, "p50_ms", ".3f", "\n"),
                    _spread(f, "p99_ms", ".2f", "\n"),
                    _spread(f, "calls_per_s", ".0f", "\n"),
                    _spread(f, cpu, ".2f", "\n"),
                )
    console.print(sequential)

    throughput = Table(
        title=f"HTTP, concurrent sessions (median of {boundary['repeats']} interleaved runs, min–max)",
        title_justify="left",
    )
    for column in ("sessions", "server", "calls/s", "server CPU ms/call"):
        throughput.add_column(column, justify="left" if column == "server" else "right")
    for sessions, r in boundary["http_throughput"].items():
        for kind in kinds:
            throughput.add_row(
                sessions if kind == kinds[0] else "",
                kind,
                _spread(r[kind], "calls_per_s", ".0f"),
                _spread(r[kind], "server_cpu_ms_per_call", ".2f"),
                end_section=kind == kinds[-1],
            )
    console.print(throughput)

    ratios = Table(title="Ratios, each taken within one interleaved run: median (min–max)", title_justify="left")
    ratios.caption = "bare: a sync SDK tool (run in a worker thread); bare async: an async def tool (on the loop)"
    for column in ("figure", "transport", "guarded ÷ bare", "÷ bare async", "÷ fastmcp"):
        ratios.add_column(column, justify="left" if column in ("figure", "transport") else "right")
    memory, http = boundary["in_memory"]["ratios"], boundary["http"]["ratios"]
    ratios.add_row(
        "p50 latency",
        "in memory",
        _ratio(memory, "p50_guarded_to_bare"),
        _ratio(memory, "p50_guarded_to_bare_async"),
        "",
    )
    ratios.add_row("p99 latency", "in memory", _ratio(memory, "p99_guarded_to_bare"), "", "")
    ratios.add_row(
        "CPU per call",
        "in memory",
        _ratio(memory, "cpu_guarded_to_bare"),
        _ratio(memory, "cpu_guarded_to_bare_async"),
        "",
        end_section=True,
    )
    ratios.add_row(
        "p50 latency",
        "HTTP",
        _ratio(http, "p50_guarded_to_bare"),
        _ratio(http, "p50_guarded_to_bare_async"),
        _ratio(http, "p50_guarded_to_fastmcp"),
    )
    ratios.add_row("p99 latency", "HTTP", _ratio(http, "p99_guarded_to_bare"), "", "")
    ratios.add_row(
        "server CPU/call",
        "HTTP",
        _ratio(http, "server_cpu_guarded_to_bare"),
        _ratio(http, "server_cpu_guarded_to_bare_async"),
        _ratio(http, "server_cpu_guarded_to_fastmcp"),
        end_section=True,
    )
    for sessions, r in boundary["http_throughput"].items():
        at = f"HTTP, {sessions} sess."
        ratios.add_row(
            "throughput",
            at,
            _ratio(r["ratios"], "guarded_to_bare"),
            _ratio(r["ratios"], "guarded_to_bare_async"),
            _ratio(r["ratios"], "guarded_to_fastmcp"),
        )
        ratios.add_row("server CPU/call", at, _ratio(r["ratios"], "server_cpu_guarded_to_bare"), "", "")
    console.print(ratios)
    _print_instructions(console, boundary["instructions"])

    targets = Table(title="The issue's targets (medians; never asserted)", title_justify="left")
    for column in ("target", "where", "value", ""):
        targets.add_column(column, justify="right" if column == "value" else "left")
    latency = boundary["targets"]["latency_guarded_to_bare_at_most"]
    for transport, r in (("in memory", memory), ("HTTP", http)):
        value = r["p50_guarded_to_bare"]
        targets.add_row(f"guarded ÷ bare p50 latency ≤ {latency}", transport, *_against(value, value <= latency))
    for transport, r in (("in memory", memory), ("HTTP", http)):
        value = r["p50_guarded_to_bare_async"]
        targets.add_row(f"  the same, ÷ bare async ≤ {latency}", transport, *_against(value, value <= latency))
    floor = boundary["targets"]["throughput_guarded_to_fastmcp_at_least"]
    from_sessions = boundary["targets"]["throughput_target_from_sessions"]
    for sessions, r in boundary["http_throughput"].items():
        value = r["ratios"]["guarded_to_fastmcp"]
        if int(sessions) >= from_sessions:
            verdict = _against(value, value >= floor)
        else:  # latency-bound: most of a call is the SDK client's, the same for both servers
            verdict = (f"{value:.3f}", "shown; not a target")
        targets.add_row(f"guarded ÷ fastmcp calls/s ≥ {floor}", f"HTTP, {sessions} sess.", *verdict)
    console.print(targets)


def _print_instructions(console: Console, counted: dict[str, Any]) -> None:
    if "skipped" in counted:
        console.print(f"Instructions per call: not counted, {counted['skipped']}")
        return
    table = Table(
        title=f"Instructions per call in the server process (callgrind, {counted['calls']} sequential calls)",
        title_justify="left",
    )
    table.caption = (
        "User space only: the kernel's share (HTTP socket I/O, the same for every kind) is left out. "
        "A count, not a time: the same run after run, within ~2%"
    )
    for column in ("server", "million instructions", "guarded ÷ it"):
        table.add_column(column, justify="left" if column == "server" else "right")
    for kind, per_call in counted["per_call"].items():
        ratio = counted["ratios"].get(f"guarded_to_{kind}")
        table.add_row(kind, f"{per_call / 1e6:.3f}", "" if ratio is None else f"{ratio:.3f}")
    console.print(table)


def _spread(figures: dict[str, Any], key: str, fmt: str, between: str = " ") -> str:
    low, high = figures["min_max"][key]
    return f"{figures[key]:{fmt}}{between}({low:{fmt}}–{high:{fmt}})"


def _ratio(ratios: dict[str, Any], key: str) -> str:
    if ratios[key] is None:  # no repeat had a nonzero denominator (CPU under one clock tick)
        return "n/a"
    low, high = ratios["min_max"][key]
    return f"{ratios[key]:.2f} ({low:.2f}–{high:.2f})"


def _against(value: float, met: bool) -> tuple[str, str]:
    return f"{value:.3f}", "met" if met else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "which", choices=["all", "boundary", "e2e", "memory", "scale", "chaos"], nargs="?", default="all"
    )
    parser.add_argument("--size", choices=["tiny", "small", "full"], default="small")
    parser.add_argument("--json", type=Path, default=Path("bench-report.json"))
    parser.add_argument("--kills", type=int, default=None, help="chaos: workers SIGKILLed (default: by --size)")
    parser.add_argument(
        "--telemetry",
        choices=MODES,
        default="off",
        help="boundary and e2e: off, the coordinator's metrics, or metrics and traces at 100%% (bench/_telemetry.py)",
    )
    args = parser.parse_args()
    if args.which == "chaos":  # a campaign, not a measurement: not part of `all`
        _main_chaos(args.size, args.kills, args.json)
        return
    report: dict[str, Any] = {"size": args.size, "telemetry": args.telemetry}
    benchmarks = {"boundary": _boundary, "e2e": _e2e, "memory": _memory, "scale": _scale}
    names = list(benchmarks) if args.which == "all" else [args.which]
    if args.which == "all" and (unreachable := _scale.unreachable()) is not None:
        names.remove("scale")
        print(f"scale skipped: it needs PostgreSQL, and here {unreachable}")
        report["scale_skipped"] = unreachable
    with telemetry(args.telemetry), progress_bar(sum(benchmarks[name].blocks(args.size) for name in names)) as step:
        for name in names:
            report[name] = anyio.run(benchmarks[name].run, args.size, step)
    _print(Console(), report)
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report written to {args.json}")


def _main_chaos(size: str, kills: int | None, out: Path) -> None:
    """`python -m bench chaos`: exits 1 when a run was lost, a write happened twice or a handoff ran too often."""
    if (unreachable := _scale.unreachable()) is not None:
        print(f"chaos skipped: it needs PostgreSQL, and here {unreachable}")
        return
    with progress_bar(_chaos.blocks(size, kills)) as step:
        report = anyio.run(partial(_chaos.run, size, step, kills=kills))
    out.write_text(json.dumps({"size": size, "chaos": report}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"report written to {out}")
    problems = _chaos.check(report)
    if problems:
        print("chaos found: " + "; ".join(problems))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
