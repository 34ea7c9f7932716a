"""The crash campaign: workers SIGKILLed at random points and a server killed and restarted mid-run, on PostgreSQL.

One world of its own, as the scale-out benchmark builds it (`bench._scale`: fresh schemas, a home with the batch
in the tenants' mailboxes, the four servers as processes): the batch is submitted, K `deskhand work` processes
(short leases, the offline model taking a hosted model's time) run it, and a seeded random schedule SIGKILLs a
worker holding a handoff N times (each restarted at once) and, half-way, SIGKILLs the helpdesk server and starts
it again on the same port (a restart well inside the outage window). When every run has ended, the workers stop
and the report says, from the store and the servers' own tables:

- `runs_lost`: runs neither completed, escalated nor awaiting approval (expected 0);
- `duplicate_writes`: rows beyond one per idempotency key of their tool (tickets, notes, drafts, interactions,
  sent replies), one ticket per message and one note per ticket (expected 0);
- `handoffs_over_limit`: handoffs run more often than `max_attempts` allows (expected 0: one claimed past the
  limit is escalated without running), beside the largest attempt seen and how many handoffs were taken over;
- `escalated_by_the_outage`: runs escalated because a server was unavailable (expected 0: the restart is
  shorter than the outage window).

It stops by itself (every wait is bounded) and exits non-zero when a figure is not what it should be. Sizes:
tiny 12 emails, 2 workers, 3 kills; small 40 emails, 3 workers, 10 kills.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from bench._progress import Step, quiet
from bench._scale import (
    CREATES,
    REPO,
    _batch,
    _home,
    _in_schema,
    _q,
    _row_counts,
    _scalar,
    _schemas,
    _Workers,
    postgres_url,
    unreachable,
)
from coordinator import RuntimeSettings, open_runtime
from coordinator.cli import running_servers
from coordinator.store import Store
from mcp_servers.helpdesk import NoteRow, TicketRow
from schemas import InboundEmail, load_tenant_file

if TYPE_CHECKING:
    from bench._scale import Connection

LEASE = 3.0
"""The workers' lease (`deskhand work --lease`): a killed worker's handoffs are taken over this soon."""
MODEL_LATENCY = 0.5
"""Seconds a judgment takes, so that a kill lands mid-run."""
ENDED = ("completed", "escalated", "awaiting_approval")


@dataclass(frozen=True)
class _Size:
    emails: int
    workers: int
    kills: int


SIZES = {"tiny": _Size(12, 2, 3), "small": _Size(40, 3, 10), "full": _Size(40, 3, 10)}


class ChaosError(RuntimeError):
    """The campaign could not run to its end (a worker or server would not start, runs never ended)."""


def blocks(size: str, kills: int | None = None) -> int:
    """The campaign's blocks, for the progress bar: set-up, submit, each kill, the server restart, the proof."""
    return 4 + (SIZES[size].kills if kills is None else kills)


async def run(size: str, step: Step = quiet, *, kills: int | None = None, seed: int = 16) -> dict[str, Any]:
    import psycopg

    spec = SIZES[size]
    kills = spec.kills if kills is None else kills
    reason = unreachable()
    if reason is not None:
        raise ChaosError(f"cannot run the crash campaign: {reason}")
    rng = random.Random(seed)
    tenants = [load_tenant_file(REPO / "examples" / "tenants" / f"{n}.yaml") for n in ("acme", "northwind")]
    batch = _batch(spec.emails, "x")
    seeded = [t.model_copy(update={"inbox": [*t.inbox, *(m for tid, m in batch if tid == t.tenant)]}) for t in tenants]
    base = postgres_url()
    max_attempts = RuntimeSettings().max_attempts
    step(f"chaos: a world on PostgreSQL, {spec.emails} emails, {spec.workers} workers")
    with (
        tempfile.TemporaryDirectory(prefix="deskhand-bench-chaos-") as tmp,
        _schemas(base) as schemas,
        psycopg.connect(base, autocommit=True) as conn,
    ):
        home = _home(Path(tmp), base, schemas, seeded)
        store_url = _in_schema(base, schemas["coordinator"])
        Store(store_url).dispose()
        before = _row_counts(conn, schemas)
        others = [name for name in home.servers if name != "helpdesk"]
        workers = _Workers()
        killed = restarts = 0
        with ExitStack() as servers:
            servers.enter_context(running_servers(home, only=others))
            helpdesk = ExitStack()
            servers.callback(helpdesk.close)
            helpdesk_process = helpdesk.enter_context(running_servers(home, only=["helpdesk"]))["helpdesk"].process
            settings = RuntimeSettings(tenant_max_running=len(batch))
            async with open_runtime(home, [t.tenant for t in tenants], db=store_url, settings=settings) as runtime:
                for tenant, m in batch:
                    runtime.submit(
                        tenant, InboundEmail(message_id=m.id, sender=m.sender, subject=m.subject, body=m.body)
                    )
            step(f"chaos: {len(batch)} runs submitted")
            command = ["--lease", str(LEASE)]
            try:
                for _ in range(spec.workers):
                    _start_worker(workers, home, store_url, command)
                deadline = time.monotonic() + 120 + 10 * spec.emails
                handoff_table = _q(schemas["coordinator"], "coord_handoff")
                claimed = f"SELECT lease_owner FROM {handoff_table} WHERE state = 'claimed'"
                for kill in range(kills):
                    await anyio.sleep(rng.uniform(0.2, 1.5))
                    victim = await _victim(conn, claimed, workers, rng)
                    process, _ = workers.processes[victim]
                    process.send_signal(signal.SIGKILL)
                    process.wait()
                    workers.processes.pop(victim)
                    _start_worker(workers, home, store_url, command)
                    killed += 1
                    step(f"chaos: worker killed ({kill + 1} of {kills}) and started again")
                    if kill == kills // 2:
                        helpdesk_process = _restart_helpdesk(helpdesk_process, helpdesk, home)
                        restarts += 1
                        step("chaos: the helpdesk server killed and started again")
                if not restarts:
                    helpdesk_process = _restart_helpdesk(helpdesk_process, helpdesk, home)
                    restarts += 1
                    step("chaos: the helpdesk server killed and started again")
                running = f"SELECT count(*) FROM {_q(schemas['coordinator'], 'coord_run')} WHERE status = 'running'"
                # another process's state (a bench, not a test); bounded: runs not ended by then are reported lost
                while int(_scalar(conn, running)) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await anyio.sleep(0.2)
            finally:
                _started(workers)  # a worker interrupted while it starts up exits with an error, not 0
                workers.stop()
        step("chaos: the proof, from the store and the servers' tables")
        coordinator = schemas["coordinator"]
        runs = conn.execute(f"SELECT source_key, tenant, status, reason FROM {_q(coordinator, 'coord_run')}").fetchall()
        handoffs = conn.execute(f"SELECT attempt, takeovers, state FROM {_q(coordinator, 'coord_handoff')}").fetchall()
        duplicates = _duplicates(conn, schemas, before, [(tenant, key) for key, tenant, *_ in runs])
    # a handoff claimed past the limit is escalated without running (a worker killed while it records that leaves
    # it to the next claim, one attempt more): over the limit is one that ended any other way past it
    over = sum(1 for attempt, _, state in handoffs if attempt > max_attempts and state != "escalated")
    report = {
        "emails": len(batch),
        "workers": spec.workers,
        "seed": seed,
        "workers_killed": killed,
        "server_restarts": restarts,
        "runs": len(runs),
        "runs_lost": sum(1 for _, _, status, _ in runs if status not in ENDED),
        "outcomes": dict(Counter(status for _, _, status, _ in runs)),
        "escalated_by_the_outage": sum(
            1 for _, _, status, why in runs if status == "escalated" and "unavailable" in why
        ),
        "escalation_reasons": dict(Counter(why[:100] for _, _, status, why in runs if status == "escalated")),
        "duplicate_writes": duplicates,
        "handoffs_taken_over": sum(1 for _, takeovers, _ in handoffs if takeovers),
        "max_attempt": max((attempt for attempt, *_ in handoffs), default=0),
        "max_attempts": max_attempts,
        "handoffs_over_limit": over,
    }
    return report


def check(report: dict[str, Any]) -> list[str]:
    """What the campaign found wrong (empty when runs lost, duplicate writes, handoffs over the limit and runs
    escalated because the restarted server was unavailable are all 0)."""
    keys = ("runs_lost", "duplicate_writes", "handoffs_over_limit", "escalated_by_the_outage")
    return [f"{key}: {report[key]}" for key in keys if report[key]]


def _start_worker(workers: _Workers, home: Any, db: str, extra: list[str]) -> None:
    """One more `deskhand work` process, logging to a file of its own."""
    (home.path / "logs").mkdir(parents=True, exist_ok=True)
    log = home.path / "logs" / f"worker-{sum(1 for _ in (home.path / 'logs').glob('worker-*.log'))}.log"
    command = [sys.executable, "-m", "coordinator.cli", "--home", str(home.path), "work", "--db", db]
    command += ["--model-latency", str(MODEL_LATENCY), "--concurrency", "4", *extra]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    workers.processes.append((process, log))


async def _victim(conn: Connection, claimed: str, workers: _Workers, rng: random.Random, within: float = 30.0) -> int:
    """A worker holding a handoff (a kill mid-run), waited for up to `within` seconds; else any worker."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pids = {int(str(owner).split(":")[1]) for (owner,) in conn.execute(claimed).fetchall() if owner}
        holding = [i for i, (process, _) in enumerate(workers.processes) if process.pid in pids]
        if holding:
            return rng.choice(holding)
        await anyio.sleep(0.05)  # another process's state (a bench, not a test)
    return rng.randrange(len(workers.processes))


def _started(workers: _Workers, within: float = 120.0) -> None:
    """Wait until every live worker says it is working (`deskhand work` prints that once it runs)."""
    deadline = time.monotonic() + within
    for process, log in workers.processes:
        while process.poll() is None and "deskhand work: working" not in log.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise ChaosError(f"a worker did not start within {within:g}s: {log}")
            time.sleep(0.1)


def _restart_helpdesk(process: subprocess.Popen[bytes], helpdesk: ExitStack, home: Any) -> subprocess.Popen[bytes]:
    """SIGKILL the helpdesk server (no flush, no goodbye) and start it again on its port."""
    process.send_signal(signal.SIGKILL)
    process.wait()
    helpdesk.close()
    return helpdesk.enter_context(running_servers(home, only=["helpdesk"]))["helpdesk"].process


def _duplicates(conn: Connection, schemas: dict[str, str], before: dict[str, int], runs: list[tuple[str, str]]) -> int:
    """Rows beyond one per idempotency key of the tool that made them, tickets beyond one per message and notes
    beyond one per ticket: the writes that happened twice."""
    excess = 0
    after = _row_counts(conn, schemas)
    for server, creates in CREATES.items():
        # the idempotency record is written with the write itself (the audit may lose its last rows to a SIGKILL)
        recorded = f"SELECT tool, count(*) FROM {_q(schemas[server], 'idempotency_record')} GROUP BY tool"
        keys = dict(conn.execute(recorded).fetchall())
        for table, tool in creates.items():
            excess += max(0, after[table] - before[table] - int(keys.get(tool, 0)))
    helpdesk = schemas["helpdesk"]
    tickets = Counter(
        conn.execute(
            f"SELECT tenant_id, source_message_id FROM {_q(helpdesk, TicketRow.__tablename__)} "
            "WHERE source_message_id = ANY(%s)",
            ([key for _, key in runs],),
        ).fetchall()
    )
    notes = Counter(conn.execute(f"SELECT tenant_id, ticket_id FROM {_q(helpdesk, NoteRow.__tablename__)}").fetchall())
    excess += sum(count - 1 for count in tickets.values() if count > 1)
    excess += sum(count - 1 for count in notes.values() if count > 1)
    return excess
