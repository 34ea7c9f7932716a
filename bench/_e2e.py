"""End to end: tickets per second through the coordinator (offline model, the four servers over HTTP on
SQLite), the MCP calls each ticket takes, and the coordinator's own time per handoff (claim, budgets,
routing, recording — not in a tool or the model).

The baseline, measured in the same run: a bare MCP SDK tool over HTTP (bench._serve `bare`). Its call
rate divided by the MCP calls per ticket is the most tickets per second a coordinator could reach if
every call cost what a bare SDK call costs and the coordinator cost nothing. The bare rate is measured
right before each pass and right after it (after the calls alone, for the 4-worker pass) and averaged,
since this machine's speed drifts within seconds.
Two passes per repeat, after a warm-up that opens every session set: one ticket at a time (against one
bare caller; this pass also measures the coordinator's own time per handoff, which concurrency would
blur), and four workers (against four bare callers at once).

A specialist makes independent calls at once (`specialists.kit.gather`), so one ticket at a time is not
one call at a time: the 1-worker ratio says how a ticket's latency compares with sequential bare calls,
and the 4-worker ratio, where both sides keep the 2 cores busy, how much work each call costs.

After each 4-worker pass, its MCP calls are made again with no runtime (`_calls_alone`): the same
calls, to the same servers, through the same sessions, four tickets at a time. Their rate over the
bare rate is the ceiling of the 4-worker ratio on this machine: what these calls cost the SDK client
and the servers, with nothing of the coordinator around them. The 4-worker rate over theirs is the
share of that ceiling the runtime keeps.

The coordinator's time per handoff is also given over the latency of one bare SDK call in the same run
(`coordinator_overhead_to_bare_call`): milliseconds move with the machine's speed, that ratio much less.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench import _telemetry
from bench._boundary import _process, _setup
from bench._progress import Step, quiet
from coordinator import DevKeys, Home, Runtime, RuntimeStats, open_runtime, work
from coordinator.cli import ServerProcess, free_port, prepare, running_servers
from coordinator.telemetry import CoordinatorMetrics
from mcp_servers.kit import setup_tracing
from schemas import DeskhandError, InboundEmail, ServerName, TenantFile, load_tenant_file
from schemas.tools import TOOLS_BY_NAME

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = ("acme", "northwind")
BRIEF_BARE_CALL_MS = 2.25
"""What the project brief measured a bare SDK call over HTTP to cost (0.75 ms in the server, 1.5 ms in the
client) when it set "the coordinator adds at most 1 ms per handoff"."""
TARGETS = {
    "ratio_to_bare_limit_at_least": 0.6,
    "e2e_to_calls_alone_4_workers_at_least": 0.75,
    "coordinator_ms_per_handoff_at_most": 1.0,
    "coordinator_per_handoff_to_bare_call_at_most": round(1.0 / BRIEF_BARE_CALL_MS, 2),
}
"""The targets, printed beside the figures and never asserted. Two of them are ratios in place of figures
that measure the machine as much as the code: with 4 workers, the share of the calls-alone rate the runtime
keeps (the calls alone ÷ bare, the ceiling of the ratio to the bare limit, itself measured 0.59–0.86 here,
so "≥ 0.6 of the bare limit" was out of reach on some days whatever the runtime did); and the coordinator's
time per handoff over one bare SDK call's latency in the same run (1 ms against the brief's 2.25 ms), since
milliseconds move with the machine's speed (1 ms was met at ~460 bare calls/s, missed at ~150)."""


def example_tenants() -> list[TenantFile]:
    return [load_tenant_file(REPO / "examples" / "tenants" / f"{name}.yaml") for name in EXAMPLES]


def sample_emails(tenant_of: dict[str, str] | None = None) -> dict[str, list[InboundEmail]]:
    """The sample inbox by tenant (`tenant_of` maps each clone to the example tenant whose mail it gets)."""
    by_example: dict[str, list[InboundEmail]] = {}
    for line in (REPO / "examples" / "inbox.jsonl").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            email = InboundEmail(sender=item["from"], subject=item["subject"], body=item["body"])
            by_example.setdefault(item["tenant"], []).append(email)
    if tenant_of is None:
        return by_example
    return {tenant: by_example[example] for tenant, example in tenant_of.items()}


@asynccontextmanager
async def coordinator_world(
    directory: Path, tenants: Sequence[TenantFile]
) -> AsyncIterator[tuple[Runtime, dict[ServerName, ServerProcess]]]:
    """The four servers as processes over HTTP on SQLite, with `tenants` loaded, and a runtime for them (counting
    its metrics when the benchmark's telemetry says so)."""
    home = Home.defaults(directory)
    home = home.with_servers(
        {n: type(s)(n, f"http://127.0.0.1:{free_port()}/mcp", s.db) for n, s in home.servers.items()}
    ).with_tenants([t.tenant for t in tenants])
    home.save()
    DevKeys.create(home.keys_dir)
    prepare(home, list(tenants))
    with running_servers(home) as servers:
        async with open_runtime(home, [t.tenant for t in tenants]) as runtime:
            if _telemetry.active != "off":  # as `deskhand work --metrics` counts
                runtime.metrics = CoordinatorMetrics()
            yield runtime, servers


def submit_round(runtime: Runtime, emails: dict[str, list[InboundEmail]], count: int, label: str) -> list[str]:
    """Submit `count` tickets, taking the tenants in turn and each tenant's emails in turn."""
    tenants = sorted(emails)
    run_ids = []
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        mail = emails[tenant]
        run_ids.append(runtime.submit(tenant, mail[(i // len(tenants)) % len(mail)], source=f"{label}:{i}")[0])
    return run_ids


async def _bare_calls_per_s(url: str, sessions: int, calls: int) -> float:
    """Calls per second of the bare SDK tool with `sessions` clients calling at once (sessions already open)."""
    async with httpx2.AsyncClient() as http, AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client(streamable_http_client(url, http_client=http)))
            for _ in range(sessions)
        ]
        for client in clients:  # warm
            await client.call_tool("find_customer", {"email": "nobody@example.com"})
        per = max(1, calls // sessions)
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for client in clients:

                async def calling(c: Client = client) -> None:
                    for _ in range(per):
                        await c.call_tool("find_customer", {"email": "nobody@example.com"})

                tg.start_soon(calling)
        return per * sessions / (time.perf_counter() - started)


async def _pass(
    runtime: Runtime, emails: dict[str, list[InboundEmail]], count: int, label: str, workers: int
) -> tuple[dict[str, float], list[str]]:
    """A pass's figures, and its runs."""
    run_ids = submit_round(runtime, emails, count, label)
    runtime.stats = RuntimeStats()
    started = time.perf_counter()
    await work(runtime, concurrency=workers, until_idle=True, poll_seconds=0.002)
    wall = time.perf_counter() - started
    calls = sum(runtime.store.run(r).tool_calls for r in run_ids)
    return {
        "tickets_per_s": count / wall,
        "mcp_calls_per_ticket": calls / count,
        "handoffs_per_ticket": runtime.stats.handoffs / count,
        "coordinator_overhead_ms_per_handoff": runtime.stats.overhead_ms_per_handoff,
    }, run_ids


async def _calls_alone(runtime: Runtime, run_ids: Sequence[str], workers: int) -> tuple[float, float]:
    """The MCP calls of these runs again, with no runtime: calls per second, and the share that failed.

    Each ticket's recorded tool calls, one after another in the order they were made, through the same
    pooled sessions and the coordinator's own MCP layer (`McpToolbox.call`: the request, the SDK client,
    the typed result), `workers` tickets at a time. No claim, store, model, specialist, recording,
    timeout, retry or breaker. Writes carry fresh idempotency keys, so they write again as they did in
    the pass. A call that fails (a conflict with what the pass wrote) still counts: it made its round trip.
    """
    tickets = []
    for run_id in run_ids:
        tenant = runtime.store.run(run_id).tenant
        calls = []
        for row in runtime.store.exchanges(run_id):
            if row.kind == "tool":
                spec = TOOLS_BY_NAME[row.name]
                calls.append((row.specialist, spec, spec.input.model_validate(row.request)))
        tickets.append((tenant, calls))
    pending = iter(tickets)
    made = failed = 0

    async def worker() -> None:
        nonlocal made, failed
        for tenant, calls in pending:
            for specialist, group in itertools.groupby(calls, key=lambda call: call[0]):  # a handoff's calls
                async with runtime.pool.session(tenant, runtime.specialists[specialist].manifest) as toolbox:
                    for _, spec, args in group:
                        key = uuid.uuid4().hex if spec.side_effect == "write" else None
                        try:
                            await toolbox.call(spec, args, key=key)
                        except DeskhandError:
                            failed += 1
                        made += 1

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
    return made / (time.perf_counter() - started), failed / max(made, 1)


SIZES = {"tiny": (6, 1, 60), "small": (40, 3, 400), "full": (120, 5, 1000)}
"""Tickets a pass, repeats, bare calls per measurement of the bare rate."""


def blocks(size: str) -> int:
    """The measured blocks of a run, for the progress bar: the warm-up, then two passes a repeat."""
    return 1 + 2 * SIZES[size][1]


async def run(size: str, step: Step = quiet) -> dict[str, Any]:
    count, repeats, bare_calls = SIZES[size]
    setup_tracing("deskhand-coordinator")  # the price of traces, measured with OTEL_* set (off otherwise)
    samples: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory(prefix="deskhand-bench-e2e-") as tmp:
        directory = Path(tmp)
        (directory / "bare").mkdir()
        bare_db, _ = _setup(directory / "bare")
        async with (
            _process("bare", bare_db, directory / "bare" / "keys") as bare_url,
            coordinator_world(directory / "home", example_tenants()) as (runtime, _),
        ):
            emails = sample_emails()
            step("e2e: warm-up (every session set opened)")
            await _pass(runtime, emails, sum(len(m) for m in emails.values()), "warm-up", 4)  # every session set opened
            for repeat in range(repeats):
                step(f"e2e: one worker, {count} tickets, repeat {repeat + 1} of {repeats}")
                # the bare rate on either side of each pass, averaged: this machine's speed drifts within seconds
                bare_one = await _bare_calls_per_s(bare_url, 1, bare_calls)
                one, _ = await _pass(runtime, emails, count, f"seq{repeat}", 1)
                bare_one = (bare_one + await _bare_calls_per_s(bare_url, 1, bare_calls)) / 2
                step(f"e2e: four workers, then the calls alone, repeat {repeat + 1} of {repeats}")
                bare_four = await _bare_calls_per_s(bare_url, 4, bare_calls)
                four, four_runs = await _pass(runtime, emails, count, f"par{repeat}", 4)
                alone, alone_failed = await _calls_alone(runtime, four_runs, 4)
                bare_four = (bare_four + await _bare_calls_per_s(bare_url, 4, bare_calls)) / 2
                keep("tickets_per_s_1_worker", one["tickets_per_s"])
                keep("tickets_per_s_4_workers", four["tickets_per_s"])
                keep("mcp_calls_per_ticket", one["mcp_calls_per_ticket"])
                keep("handoffs_per_ticket", one["handoffs_per_ticket"])
                keep("coordinator_overhead_ms_per_handoff", one["coordinator_overhead_ms_per_handoff"])
                keep("coordinator_overhead_to_bare_call", one["coordinator_overhead_ms_per_handoff"] * bare_one / 1000)
                keep("bare_calls_per_s_1_session", bare_one)
                keep("bare_calls_per_s_4_sessions", bare_four)
                keep("ratio_to_bare_limit_1_worker", one["tickets_per_s"] * one["mcp_calls_per_ticket"] / bare_one)
                keep("ratio_to_bare_limit_4_workers", four["tickets_per_s"] * four["mcp_calls_per_ticket"] / bare_four)
                keep("calls_alone_per_s_4_workers", alone)
                keep("calls_alone_failed_share", alone_failed)
                keep("calls_alone_to_bare_4_workers", alone / bare_four)
                keep("e2e_to_calls_alone_4_workers", four["tickets_per_s"] * four["mcp_calls_per_ticket"] / alone)
    report: dict[str, Any] = {"tickets_per_pass": count, "repeats": repeats, "targets": TARGETS}
    for name, values in samples.items():
        report[name] = statistics.median(values)
        report[f"{name}_min_max"] = [min(values), max(values)]
    return report
