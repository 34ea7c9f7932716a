"""Scale-out on PostgreSQL: tickets per second with 1, 2 and 4 worker processes, and the proof that no write
happened twice.

Two series, because a worker can be bound by two things. With the offline model answering at once, a ticket is
all CPU, and on a small machine the workers share the cores with the servers and PostgreSQL: more processes
cannot add throughput there, only show that they share the work without writing twice. In production a worker
spends most of a run waiting on a hosted model; the second series has the offline model take `MODEL_LATENCY`
seconds a judgment (`deskhand work --model-latency`), so throughput is bound by how many handoffs wait at once,
and each process adds its `--concurrency`, until the CPU binds.

A trial (one N, one repeat) runs in a world of its own: five fresh schemas in the PostgreSQL database (the
coordinator's store and one per server, all dropped afterwards), a fresh deskhand home pointing at them with
both series' messages loaded into the tenants' mailboxes, and the four servers as processes over HTTP. Each
series then starts N worker processes of its own (`python -m coordinator.cli work --db postgresql://...
--concurrency 4`, i.e. `deskhand work`), which count as up once each has fetched both tenants' policies (their
`get_policy` calls in the knowledge server's audit); then its batch is submitted and the clock runs from the
first submit to its last run's `finished_at`; then its workers are stopped. Process start-up is reported apart
(`startup_s`), not in the throughput. Over the same window the CPU time of the machine, the workers, the servers
and PostgreSQL is read from /proc: `cores_busy` of the machine, `cores_busy_elsewhere` (neither ours nor
PostgreSQL's: the noise of a shared machine), and the CPU milliseconds each part spent per ticket.

After the servers stop (flushing their audit), the proof is read from their own databases and the store:
- idempotency records == distinct keys == the distinct keys of allowed keyed writes in the audit, and the keys
  the runs report writing == the keys recorded (none missing, none extra); no write without a key;
- the rows each creating tool made (tickets, notes, drafts, interactions, credits, sent replies) == the distinct
  keys of that tool;
- one ticket per run (by its message) and one internal note per ticket; no credit (nobody approves one here);
- each key's write called once (audit rows per key) unless its handoff was retried or taken over.
Any of these failing raises `ScaleProofError`; `duplicate_writes` counts the rows beyond one per key, message or
ticket, and is 0 in every report this returns.

Sizes: tiny 8 + 8 emails with N in (1, 2), once (~55 s); small 60 + 40 and full 200 + 120 emails with N in
(1, 2, 4), three repeats each, interleaved (repeat 1: N=1, 2, 4; repeat 2: ...) so a slow patch of a shared
machine hits every N. Each trial spends 15–25 s on set-up and tear-down (schemas, seeding, four servers and
twice N workers starting, the servers flushing their audit), more than on the measured work at `small`. The base
URL is `$DESKHAND_BENCH_POSTGRES_URL`, else the one below.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console
from rich.table import Table

from bench._progress import Step, quiet
from coordinator import DevKeys, Home, RuntimeSettings, ServerConfig, open_runtime
from coordinator.cli import free_port, prepare, running_servers
from coordinator.store import Store
from mcp_servers.crm import CreditRow, InteractionRow
from mcp_servers.helpdesk import DraftRow as TicketDraftRow
from mcp_servers.helpdesk import NoteRow, TicketRow
from mcp_servers.mailbox import DraftRow as MailDraftRow
from mcp_servers.mailbox import SentReplyRow
from schemas import BUILTIN_SERVERS, InboundEmail, MessageSeed, ServerName, TenantFile, load_tenant_file
from schemas.tools import ALL_TOOLS, crm, helpdesk, mailbox

if TYPE_CHECKING:
    import psycopg

    Connection = psycopg.Connection[Any]

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
CONCURRENCY = 4
"""Handoffs at once in each worker process (the CLI's default)."""


MODEL_LATENCY = 0.5
"""Seconds each judgment takes in the series that waits on the model (`deskhand work --model-latency`): a fast
hosted model. Production workers spend most of a run waiting on the model, not on the CPU."""


@dataclass(frozen=True)
class _Size:
    emails: int
    """Emails of the series with the offline model answering at once (bound by the CPU)."""
    waiting: int
    """Emails of the series waiting `MODEL_LATENCY` on each judgment (bound by waiting, until the CPU binds)."""
    workers: tuple[int, ...]
    repeats: int


SIZES = {"tiny": _Size(8, 8, (1, 2), 1), "small": _Size(60, 40, (1, 2, 4), 3), "full": _Size(200, 120, (1, 2, 4), 3)}

CREATES: dict[ServerName, dict[str, str]] = {
    "crm": {InteractionRow.__tablename__: crm.LOG_INTERACTION.name, CreditRow.__tablename__: crm.ISSUE_CREDIT.name},
    "helpdesk": {
        TicketRow.__tablename__: helpdesk.CREATE_TICKET.name,
        NoteRow.__tablename__: helpdesk.ADD_INTERNAL_NOTE.name,
        TicketDraftRow.__tablename__: helpdesk.ATTACH_DRAFT.name,
    },
    "knowledge": {},
    "mailbox": {
        MailDraftRow.__tablename__: mailbox.SAVE_DRAFT.name,
        SentReplyRow.__tablename__: mailbox.SEND_REPLY.name,
    },
}
"""The rows each creating write makes, by server: table → tool (one row per call that is not a repeat)."""
WRITES = {server: [s.name for s in ALL_TOOLS if s.server == server and s.side_effect == "write"] for server in CREATES}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ScaleProofError(RuntimeError):
    """A trial broke a promise: a write happened twice, a write was lost, or a worker failed."""


def postgres_url() -> str:
    return os.environ.get("DESKHAND_BENCH_POSTGRES_URL", DEFAULT_URL)


def unreachable() -> str | None:
    """Why this benchmark cannot run here (no psycopg, no PostgreSQL), or None when it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        with psycopg.connect(postgres_url(), connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {postgres_url()} ({str(exc).strip().splitlines()[0]})"
    return None


Batch = list[tuple[str, MessageSeed]]


def _batch(count: int, tag: str) -> Batch:
    """`count` emails from the sample inbox, both tenants, in its order (repeating it with new message ids,
    which `tag` makes unique to the series)."""
    lines = [json.loads(line) for line in (REPO / "examples" / "inbox.jsonl").read_text().splitlines() if line.strip()]
    out = []
    for i in range(count):
        line = lines[i % len(lines)]
        seed = MessageSeed(
            id=f"{line['id']}-{tag}{i:04d}", sender=line["from"], subject=line["subject"], body=line["body"]
        )
        out.append((line["tenant"], seed))
    return out


# -- CPU accounting (/proc) -------------------------------------------------------------------------


def _ticks(pid: int) -> int:
    """CPU ticks (user + system) a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _is_postgres(proc: Path) -> bool:
    try:
        return proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres"
    except OSError:
        return False


def _cpu_seconds(workers: list[int], servers: list[int]) -> dict[str, float]:
    """CPU seconds so far: the machine's busy time over all CPUs, our workers', our servers', PostgreSQL's
    (every backend: other users' queries too) and this process's."""
    machine = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    postgres = [int(p.name) for p in Path("/proc").iterdir() if _is_postgres(p)]
    ticks = {
        "busy": sum(machine) - machine[3] - machine[4],  # all but idle and iowait
        "workers": sum(map(_ticks, workers)),
        "servers": sum(map(_ticks, servers)),
        "postgres": sum(map(_ticks, postgres)),
        "bench": _ticks(os.getpid()),
    }
    return {part: value / CLOCK_TICKS for part, value in ticks.items()}


def _cpu_figures(before: dict[str, float], after: dict[str, float], seconds: float, tickets: int) -> dict[str, float]:
    used = {part: after[part] - before[part] for part in before}
    elsewhere = used["busy"] - used["workers"] - used["servers"] - used["postgres"] - used["bench"]
    return {
        "cores_busy": used["busy"] / seconds,
        "cores_busy_elsewhere": max(0.0, elsewhere) / seconds,
        **{f"{part}_cpu_ms_per_ticket": used[part] * 1000 / tickets for part in ("workers", "servers", "postgres")},
    }


# -- a world on PostgreSQL ----------------------------------------------------------------------------


def _q(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


@contextmanager
def _schemas(base: str) -> Iterator[dict[str, str]]:
    """Fresh schemas for the coordinator and each server (names → schema), dropped on the way out."""
    import psycopg

    prefix = f"dh_scale_{uuid.uuid4().hex[:10]}"
    schemas = {part: f"{prefix}_{part}" for part in ("coordinator", *BUILTIN_SERVERS)}
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f'CREATE SCHEMA "{schema}"')
        yield schemas
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _in_schema(base: str, schema: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"


def _home(path: Path, base: str, schemas: dict[str, str], tenants: list[TenantFile]) -> Home:
    """A deskhand home whose servers are on free ports and in `schemas`, with `tenants` loaded."""
    home = Home.defaults(path).with_servers(
        {
            name: ServerConfig(name, f"http://127.0.0.1:{free_port()}/mcp", _in_schema(base, schemas[name]))
            for name in BUILTIN_SERVERS
        }
    )
    home = home.with_tenants([t.tenant for t in tenants])
    home.save()
    DevKeys.create(home.keys_dir)
    prepare(home, tenants)
    return home


def _scalar(conn: Connection, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def _row_counts(conn: Connection, schemas: dict[str, str]) -> dict[str, int]:
    return {
        table: int(_scalar(conn, f"SELECT count(*) FROM {_q(schemas[server], table)}"))
        for server, tables in CREATES.items()
        for table in tables
    }


@dataclass
class _Workers:
    """N `deskhand work` processes, each logging to a file of its own."""

    processes: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self, home: Home, db: str, n: int, model_latency: float) -> None:
        command = [sys.executable, "-m", "coordinator.cli", "--home", str(home.path), "work", "--db", db]
        command += ["--model-latency", str(model_latency)] if model_latency else []
        for index in range(n):
            log = home.path / "logs" / f"worker-{'waiting-' if model_latency else ''}{index}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("wb") as handle:
                process = subprocess.Popen(
                    [*command, "--concurrency", str(CONCURRENCY)], stdout=handle, stderr=subprocess.STDOUT
                )
            self.processes.append((process, log))

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self.processes]

    def check_alive(self) -> None:
        for process, log in self.processes:
            if process.poll() is not None:
                raise ScaleProofError(f"a worker exited early ({process.returncode}):\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Interrupt the workers (idle by now): each must stop on its own and exit 0 (`deskhand work` stops
        gracefully on SIGINT); one that did not, failed."""
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        failed = []
        for process, log in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGUSR1)  # its threads' stacks, into its log (`deskhand work`)
                try:
                    process.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.returncode != 0:
                failed.append(f"a worker ended with {process.returncode}:\n{log.read_text()[-3000:]}")
        if failed:
            raise ScaleProofError("\n".join(failed))

    async def wait_for(self, conn: Connection, query: str, done: Callable[[int], bool], within: float) -> None:
        """Poll another process's state (a bench, not a test) until `done(count)`, the workers staying up."""
        try:
            with anyio.fail_after(within):
                while not done(int(_scalar(conn, query))):
                    self.check_alive()
                    await anyio.sleep(0.02)
        except TimeoutError:
            raise ScaleProofError(f"not done within {within:.0f}s: {query}") from None


# -- one trial ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _World:
    """One trial's world: its schemas, home and store, the servers' processes, and a connection to read them."""

    conn: Connection
    schemas: dict[str, str]
    home: Home
    store_url: str
    server_pids: list[int]
    tenants: list[str]


async def _trial(
    base: str, tenants: list[TenantFile], batches: list[tuple[float, Batch]], n: int, step: Step
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """N workers through each (model latency, batch) series in turn, in one world: the figures of each series,
    and the proof, which covers them all."""
    import psycopg

    everything = [m for _, batch in batches for m in batch]
    seeded = [
        t.model_copy(update={"inbox": [*t.inbox, *(m for tid, m in everything if tid == t.tenant)]}) for t in tenants
    ]
    with (
        tempfile.TemporaryDirectory(prefix="deskhand-bench-scale-") as tmp,
        _schemas(base) as schemas,
        psycopg.connect(base, autocommit=True) as conn,
    ):
        home = _home(Path(tmp), base, schemas, seeded)
        store_url = _in_schema(base, schemas["coordinator"])
        Store(store_url).dispose()  # the store's tables, before N processes open it
        before = _row_counts(conn, schemas)
        with running_servers(home) as servers:
            pids = [server.process.pid for server in servers.values()]
            world = _World(conn, schemas, home, store_url, pids, [t.tenant for t in tenants])
            results = []
            for latency, batch in batches:
                step(f"scale: {n} worker process(es), {len(batch)} emails, model {latency:g} s a judgment")
                results.append(await _series(world, batch, n, latency))
        # the servers have stopped and flushed their audit: read the proof
        coordinator = schemas["coordinator"]
        runs = conn.execute(
            f"SELECT id, tenant, source_key, status, result, finished_at FROM {_q(coordinator, 'coord_run')}"
        ).fetchall()
        handoffs = conn.execute(
            f"SELECT run_id, lease_owner, attempt FROM {_q(coordinator, 'coord_handoff')}"
        ).fetchall()
        retried = sum(1 for *_, attempt in handoffs if attempt > 1)
        proof = _proof(conn, schemas, before, [run[1:] for run in runs], retried=retried)
    for result, (_, batch) in zip(results, batches, strict=True):
        messages = {seed.id for _, seed in batch}
        mine = [run for run in runs if run[2] in messages]
        ids = {run[0] for run in mine}
        seconds = max(run[5] for run in mine).timestamp() - result.pop("started")
        result |= {
            "seconds": seconds,
            "tickets_per_s": len(batch) / seconds,
            "processes_that_worked": len(
                {str(owner).split(":")[1] for run, owner, _ in handoffs if run in ids and owner}
            ),
            "outcomes": dict(Counter(run[3] for run in mine)),
        }
    return results, proof


async def _series(world: _World, batch: Batch, n: int, model_latency: float) -> dict[str, Any]:
    """N fresh workers (`deskhand work`) through `batch`; the clock runs from the first submit (the workers up)."""
    conn, schemas = world.conn, world.schemas
    launched, workers = time.perf_counter(), _Workers()
    policies = f"SELECT count(*) FROM {_q(schemas['knowledge'], 'audit_log')} WHERE tool = 'get_policy'"
    fetched = int(_scalar(conn, policies))  # by earlier series (their workers and the submitting runtime)
    try:
        workers.start(world.home, world.store_url, n, model_latency)
        await workers.wait_for(conn, policies, lambda calls: calls >= fetched + 2 * n, 120)
        startup = time.perf_counter() - launched
        settings = RuntimeSettings(tenant_max_running=len(batch))
        async with open_runtime(world.home, world.tenants, db=world.store_url, settings=settings) as runtime:
            cpu_before, started = _cpu_seconds(workers.pids, world.server_pids), time.time()
            for tenant, m in batch:
                runtime.submit(tenant, InboundEmail(message_id=m.id, sender=m.sender, subject=m.subject, body=m.body))
            submitted = time.time() - started
        running = f"SELECT count(*) FROM {_q(schemas['coordinator'], 'coord_run')} WHERE status = 'running'"
        await workers.wait_for(conn, running, lambda left: left == 0, 60 + 3 * len(batch))
        cpu_after, observed = _cpu_seconds(workers.pids, world.server_pids), time.time() - started
        workers.check_alive()
    finally:
        workers.stop()
    return {
        "workers": n,
        "model_latency_s": model_latency,
        "started": started,
        "startup_s": startup,
        "submit_s": submitted,
        "cpu": _cpu_figures(cpu_before, cpu_after, observed, len(batch)),
    }


def _proof(
    conn: Connection, schemas: dict[str, str], before: dict[str, int], runs: list[tuple[Any, ...]], *, retried: int
) -> dict[str, int]:
    """The counts that show each write happened once; raises `ScaleProofError` when one did not."""
    problems: list[str] = []
    figures: Counter[str] = Counter(runs=len(runs), handoffs_retried=retried)
    excess: Counter[str] = Counter()  # rows beyond one per key (tickets, notes: or per message, per ticket)
    records: set[tuple[str, str]] = set()
    after = _row_counts(conn, schemas)
    for server, creates in CREATES.items():
        audit = _q(schemas[server], "audit_log")
        rows = conn.execute(f"SELECT tenant_id, id FROM {_q(schemas[server], 'idempotency_record')}").fetchall()
        keys = set(rows)
        excess["idempotency_record"] += len(rows) - len(keys)
        records |= keys
        audited = conn.execute(
            f"SELECT tenant_id, idempotency_key, tool, count(*) FROM {audit} "
            "WHERE outcome = 'allowed' AND idempotency_key IS NOT NULL AND tool = ANY(%s) GROUP BY 1, 2, 3",
            (WRITES[server],),
        ).fetchall()
        if {(t, k) for t, k, _, _ in audited} != keys:
            problems.append(f"{server}: the keys of the audit's writes and of the idempotency records differ")
        figures["idempotency_records"] += len(rows)
        figures["distinct_keys"] += len(keys)
        figures["audited_keyed_writes"] += sum(calls for *_, calls in audited)
        figures["keys_called_more_than_once"] += sum(1 for *_, calls in audited if calls > 1)
        unkeyed = "WHERE outcome = 'allowed' AND idempotency_key IS NULL AND tool = ANY(%s)"
        figures["unkeyed_writes"] += int(_scalar(conn, f"SELECT count(*) FROM {audit} {unkeyed}", WRITES[server]))
        limited = f"SELECT count(*) FROM {audit} WHERE code = 'rate_limited'"
        figures["rate_limited_calls"] += int(_scalar(conn, limited))
        for table, tool in creates.items():
            made, tool_keys = after[table] - before[table], sum(1 for *_, t, _ in audited if t == tool)
            figures[f"new_{table}"] = made
            excess[table] = max(0, made - tool_keys)
            if made != tool_keys:
                problems.append(f"{table}: {made} new rows for {tool_keys} distinct keys of {tool}")
    if figures["unkeyed_writes"]:
        problems.append(f"{figures['unkeyed_writes']} writes were made without an idempotency key")
    if figures["keys_called_more_than_once"] and not retried:
        problems.append(f"{figures['keys_called_more_than_once']} keyed writes were called again, no handoff retried")
    if figures[f"new_{CreditRow.__tablename__}"]:
        problems.append("credits were issued although nobody approved one")

    helpdesk_schema = schemas["helpdesk"]
    tickets = conn.execute(
        f"SELECT tenant_id, source_message_id, id FROM {_q(helpdesk_schema, TicketRow.__tablename__)} "
        "WHERE source_message_id = ANY(%s)",
        ([str(run[1]) for run in runs],),
    ).fetchall()
    notes = Counter(conn.execute(f"SELECT tenant_id, ticket_id FROM {_q(helpdesk_schema, NoteRow.__tablename__)}"))
    per_message = Counter((tenant, message) for tenant, message, _ in tickets)
    reported: set[tuple[str, str]] = set()
    for tenant, message, _, result, _ in runs:
        count = per_message[(tenant, message)]
        writer = result.get("crm_writer") or {"writes": []}
        reported |= {(tenant, w["idempotency_key"]) for w in writer["writes"] if w["outcome"] == "applied"}
        figures["runs_with_one_ticket"] += count == 1
        if count != 1:
            problems.append(f"the run of {tenant}/{message} has {count} tickets")
    for tenant, _, ticket in tickets:
        figures["tickets_with_one_note"] += notes[(tenant, ticket)] == 1
        if notes[(tenant, ticket)] != 1:
            problems.append(f"ticket {tenant}/{ticket} has {notes[(tenant, ticket)]} internal notes")
    figures["tickets"] = len(tickets)
    figures["keys_not_reported_by_a_run"] = len(records - reported)
    if reported != records:
        problems.append(
            f"{len(reported - records)} writes the runs report have no record; "
            f"{len(records - reported)} records belong to no run's report"
        )
    extra_tickets = sum(max(0, count - 1) for count in per_message.values())
    extra_notes = sum(max(0, notes[(t, ticket)] - 1) for t, _, ticket in tickets)
    excess[TicketRow.__tablename__] = max(excess[TicketRow.__tablename__], extra_tickets)
    excess[NoteRow.__tablename__] = max(excess[NoteRow.__tablename__], extra_notes)
    figures["duplicate_writes"] = sum(excess.values())
    if figures["duplicate_writes"]:
        problems.insert(0, f"{figures['duplicate_writes']} duplicate write(s)")
    if problems:
        raise ScaleProofError("; ".join(problems))
    return dict(figures)


# -- the benchmark --------------------------------------------------------------------------------------


def blocks(size: str) -> int:
    """The measured blocks of a run, for the progress bar: both series of each trial."""
    spec = SIZES[size]
    return spec.repeats * len(spec.workers) * 2


async def run(size: str, step: Step = quiet) -> dict[str, Any]:
    spec = SIZES[size]
    reason = unreachable()
    if reason is not None:
        raise ScaleProofError(f"cannot run the scale-out benchmark: {reason}")
    tenants = [load_tenant_file(REPO / "examples" / "tenants" / f"{n}.yaml") for n in ("acme", "northwind")]
    batches = [(0.0, _batch(spec.emails, "c")), (MODEL_LATENCY, _batch(spec.waiting, "w"))]
    series: list[dict[int, list[dict[str, Any]]]] = [{n: [] for n in spec.workers} for _ in batches]
    proofs: list[dict[str, int]] = []
    for _ in range(spec.repeats):
        for n in spec.workers:
            results, proof = await _trial(postgres_url(), tenants, batches, n, step)
            proofs.append(proof)
            for trials, result in zip(series, results, strict=True):
                trials[n].append(result)
    proof = {key: sum(p[key] for p in proofs) for key in proofs[0]}  # zeros kept
    every = [t for trials in series for results in trials.values() for t in results]
    return {
        "emails": spec.emails,
        "repeats": spec.repeats,
        "concurrency_per_worker": CONCURRENCY,
        "cpus": os.cpu_count(),
        "workers": _by_workers(series[0]),
        "waiting_on_the_model": {
            "model_latency_s": MODEL_LATENCY,
            "emails": spec.waiting,
            "workers": _by_workers(series[1]),
        },
        "duplicate_writes": proof.pop("duplicate_writes", 0),
        "proof": dict(proof),
        "outcomes": dict(sum((Counter(t["outcomes"]) for t in every), Counter())),
    }


def _by_workers(trials: dict[int, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One series' figures by N: medians over the repeats, min–max beside, each N's rate over the first N's."""
    baseline = statistics.median(t["tickets_per_s"] for t in next(iter(trials.values())))
    by_workers: dict[str, dict[str, Any]] = {}
    for n, results in trials.items():
        rates = [t["tickets_per_s"] for t in results]
        by_workers[str(n)] = {
            "tickets_per_s": statistics.median(rates),
            "min_tickets_per_s": min(rates),
            "max_tickets_per_s": max(rates),
            "ratio_to_1": statistics.median(rates) / baseline,
            "seconds": statistics.median(t["seconds"] for t in results),
            "startup_s": statistics.median(t["startup_s"] for t in results),
            "processes_that_worked": min(t["processes_that_worked"] for t in results),
            **{key: statistics.median(t["cpu"][key] for t in results) for key in results[0]["cpu"]},
            "trials": results,
        }
    return by_workers


def print_report(console: Console, report: dict[str, Any]) -> None:
    """Throughput by the number of worker processes in each series (medians over the repeats, min–max
    beside), where the CPU went, and the counts that prove each write happened once."""
    waiting = report["waiting_on_the_model"]
    latency = f"{waiting['model_latency_s']:g} s"
    series = [("at once", report["workers"]), (latency, waiting["workers"])]
    table = Table(
        title=f"Scale-out on PostgreSQL: {report['emails']} emails with the model answering at once, "
        f"{waiting['emails']} with it taking {latency} a judgment; {report['repeats']} repeat(s) per N, "
        f"{report['concurrency_per_worker']} handoffs at once per worker",
        title_justify="left",
    )
    for column in ("model", "workers", "tickets/s", "min–max", "ratio", "wall s", "start s", "worked"):
        table.add_column(column, justify="right")
    cpu = Table(title=f"Where the CPU went ({report['cpus']} CPUs; ms per ticket)", title_justify="left")
    for column in ("model", "workers", "cores busy", "elsewhere", "workers ms", "servers ms", "postgres ms"):
        cpu.add_column(column, justify="right")
    for label, by_workers in series:
        for n, r in by_workers.items():
            low, high = r["min_tickets_per_s"], r["max_tickets_per_s"]
            times = f"{r['seconds']:.2f}", f"{r['startup_s']:.1f}", str(r["processes_that_worked"])
            rate = f"{r['tickets_per_s']:.2f}", f"{low:.1f}–{high:.1f}", f"{r['ratio_to_1']:.2f}"
            table.add_row(label, n, *rate, *times)
            cores = f"{r['cores_busy']:.2f}", f"{r['cores_busy_elsewhere']:.2f}"
            parts = ("workers", "servers", "postgres")
            cpu.add_row(label, n, *cores, *(f"{r[f'{part}_cpu_ms_per_ticket']:.0f}" for part in parts))
            label = ""
    console.print(table)
    console.print(cpu)
    proof = Table(title="No write happened twice (all trials, from the servers' own databases)", title_justify="left")
    proof.add_column("figure")
    proof.add_column("value", justify="right")
    for key, value in {"duplicate_writes": report["duplicate_writes"], **report["proof"]}.items():
        proof.add_row(key, str(value))
    proof.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(report["outcomes"].items())))
    console.print(proof)
