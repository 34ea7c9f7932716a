"""End to end: tickets per second through the coordinator (offline model, the four servers over HTTP on
SQLite), the MCP calls each ticket takes, and the coordinator's own time per handoff (not in a tool or
the model). The limit it is compared with is the bare SDK's call rate divided by the calls per ticket."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from coordinator import Home
from coordinator._service import open_runtime
from coordinator._tokens import DevKeys
from coordinator._worker import work
from coordinator.cli import _serve
from coordinator.cli._processes import free_port, running_servers
from schemas import InboundEmail, load_tenant_file

REPO = Path(__file__).resolve().parent.parent


def _emails(count: int) -> list[tuple[str, InboundEmail]]:
    lines = [json.loads(line) for line in (REPO / "examples" / "inbox.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for i in range(count):
        line = lines[i % len(lines)]
        out.append((line["tenant"], InboundEmail(sender=line["from"], subject=line["subject"], body=line["body"])))
    return out


async def run(size: str) -> dict[str, Any]:
    count = {"tiny": 6, "small": 60, "full": 200}[size]
    with tempfile.TemporaryDirectory(prefix="deskhand-bench-e2e-") as tmp:
        tenants = [load_tenant_file(REPO / "examples" / "tenants" / f"{n}.yaml") for n in ("acme", "northwind")]
        home = Home.defaults(Path(tmp))
        home = home.with_servers(
            {n: type(s)(n, f"http://127.0.0.1:{free_port()}/mcp", s.db) for n, s in home.servers.items()}
        ).with_tenants([t.tenant for t in tenants])
        home.save()
        DevKeys.create(home.keys_dir)
        _serve.prepare(home, tenants)
        with running_servers(home):
            async with open_runtime(home, [t.tenant for t in tenants]) as runtime:
                run_ids = [runtime.submit(t, e, source=f"bench:{i}")[0] for i, (t, e) in enumerate(_emails(count))]
                started = time.perf_counter()
                await work(runtime, concurrency=4, until_idle=True, poll_seconds=0.005)
                wall = time.perf_counter() - started
                runs = [runtime.store.run(r) for r in run_ids]
                stats = runtime.stats
    calls = sum(r.tool_calls for r in runs)
    return {
        "tickets": count,
        "seconds": wall,
        "tickets_per_s": count / wall,
        "mcp_calls_per_ticket": calls / count,
        "handoffs": stats.handoffs,
        "coordinator_overhead_ms_per_handoff": stats.overhead_ms_per_handoff,
        "tool_seconds": stats.tool_seconds,
        "outcomes": {s: sum(1 for r in runs if r.status == s) for s in {r.status for r in runs}},
    }
