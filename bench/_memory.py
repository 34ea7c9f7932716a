"""Memory under sustained load: the RSS of the coordinator (this process) and of each of the four
server processes while the coordinator handles tickets for many tenants (full: 1,000 tenants, about
10,000 MCP calls), sampled after a warm-up and after each quarter of the load.

Flat means no growth without bound per request or per tenant: the session pool, the servers' token
and rate-limit caches and the specialists' caches are all bounded, so once they are full the RSS must
stop rising. The figure to read is the growth over the second half of the load (quarter 4 ÷ quarter 2);
the growth from the warm-up includes the caches filling up to their bounds.

Beside memory, the CPU each process spends per MCP call of the load in each quarter (utime + stime): it should
stay flat too while the databases fill up. The tenants are copies of the two examples, so the same customer
addresses recur in every tenant, where a lookup by an index that does not lead with the tenant would walk the
other tenants' rows. On this machine the quarters of `full` differ by ±20% from noise alone, and those of
`small` (two seconds each) by up to ±50%, so this shows only a gross rise, and only at `full`;
`tests/test_query_plans.py` is what keeps every hot statement on a tenant-led index. (The full size also
churns the session pool: 1,000 tenants, 256 open session sets.)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bench._boundary import _cpu_seconds
from bench._e2e import coordinator_world, example_tenants, sample_emails, submit_round
from bench._progress import Step, quiet
from coordinator import work
from coordinator.store import RunRow
from schemas import TenantFile


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def _clones(count: int) -> tuple[list[TenantFile], dict[str, str]]:
    """`count` tenants, each a copy of an example tenant under its own id (they alternate)."""
    examples = example_tenants()
    tenants, origin = [], {}
    for i in range(count):
        example = examples[i % len(examples)]
        name = f"t{i:04d}"
        tenants.append(example.model_copy(update={"tenant": name}))
        origin[name] = example.tenant
    return tenants, origin


SIZES = {"tiny": (8, 16), "small": (100, 200), "full": (1000, 880)}
"""Tenants and tickets per size."""


def blocks(size: str) -> int:
    """The measured blocks of a run, for the progress bar: the warm-up and four quarters."""
    return 5


async def run(size: str, step: Step = quiet) -> dict[str, Any]:
    return await measure(*SIZES[size], step=step)


async def measure(tenant_count: int, tickets: int, step: Step = quiet) -> dict[str, Any]:
    """The RSS of every process over a warm-up and four quarters of `tickets` spread over `tenant_count` tenants."""
    tenants, origin = _clones(tenant_count)
    with tempfile.TemporaryDirectory(prefix="deskhand-bench-mem-") as tmp:
        async with coordinator_world(Path(tmp), tenants) as (runtime, servers):
            pids: dict[str, int] = {"coordinator": os.getpid(), **{name: s.process.pid for name, s in servers.items()}}
            emails = sample_emails(origin)
            warm = min(len(tenants), 40)
            step(f"memory: warm-up, {warm} tenants")
            submit_round(runtime, {t: emails[t] for t in sorted(emails)[:warm]}, warm, "warm-up")
            await work(runtime, concurrency=4, until_idle=True, poll_seconds=0.002)
            samples = {name: [rss_kib(pid)] for name, pid in pids.items()}
            cpu_ms_per_call: dict[str, list[float]] = {name: [] for name in pids}
            calls = 0
            for quarter in range(4):
                step(f"memory: quarter {quarter + 1} of 4, {tickets // 4} tickets over {tenant_count} tenants")
                cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
                run_ids = submit_round(runtime, emails, tickets // 4, f"q{quarter}")
                await work(runtime, concurrency=4, until_idle=True, poll_seconds=0.002)
                # one SUM, not each run read back: reading every run's JSON would grow pydantic-core's
                # (bounded) string cache in this process, and measure the benchmark instead of the coordinator
                with Session(runtime.store.engine) as session:
                    quarter_calls = session.exec(
                        select(func.coalesce(func.sum(RunRow.tool_calls), 0)).where(col(RunRow.id).in_(run_ids))
                    ).one()
                calls += quarter_calls
                for name, pid in pids.items():
                    samples[name].append(rss_kib(pid))
                    used = _cpu_seconds(pid) - cpu_before[name]
                    cpu_ms_per_call[name].append(used * 1000 / max(quarter_calls, 1))
            open_sets = len(runtime.pool)
    return {
        "tenants": tenant_count,
        "tickets": tickets,
        "mcp_calls": calls,
        "session_sets_open_at_end": open_sets,
        "rss_kib": samples,
        "growth_second_half": {name: s[4] / s[2] for name, s in samples.items()},
        "growth_from_warmup": {name: s[4] / s[0] for name, s in samples.items()},
        "cpu_ms_per_call": cpu_ms_per_call,
        "cpu_growth_second_half": {name: c[3] / c[1] if c[1] else 0.0 for name, c in cpu_ms_per_call.items()},
    }
