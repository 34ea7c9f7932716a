"""`deskhand demo`: the main job on one box.

A fresh workspace, `init` with the example tenants and the sample inbox, the four MCP servers
started as separate processes over HTTP on 127.0.0.1, every inbox message of both tenants run
through the coordinator (triage → drafting → compliance → crm_writer) by concurrent workers with a
progress bar, then a summary: one row per email, totals, the approvals waiting for a person, and the
command that shows one run step by step. With `--console`, the servers stay up and the HTTP API and its
console are served on 127.0.0.1 until Ctrl-C.

The example tenants and inbox ship with the package (`examples/`, installed as `deskhand_examples`), so the
demo runs from any directory.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import replace
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import anyio
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from coordinator._home import Home, ServerConfig
from coordinator._tokens import DevKeys, TokenIssuer, signing_key_variable
from coordinator.cli._context import id_table, out
from coordinator.cli._processes import free_port, running_servers
from coordinator.store import RunRow, Store
from schemas import ConfigError, MessageSeed, TenantFile, load_tenant_file, read_text_file

if TYPE_CHECKING:  # the runtime is imported when the demo runs: every command loads this module
    from coordinator.runtime import Runtime


def _with_inbox(tenants: list[TenantFile], inbox: Path | None) -> list[TenantFile]:
    """The tenant files with the sample inbox's messages added to their own."""
    if inbox is None:
        return tenants
    extra: dict[str, list[MessageSeed]] = {}
    for number, line in enumerate(read_text_file(inbox, "the inbox").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            tenant = data.pop("tenant")
            extra.setdefault(tenant, []).append(MessageSeed.model_validate(data))
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"{inbox}:{number}: not a message line ({exc})") from exc
    return [t.model_copy(update={"inbox": [*t.inbox, *extra.get(t.tenant, [])]}) for t in tenants]


def _latency(run: RunRow) -> float:
    if run.finished_at is None:
        return 0.0
    start = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    end = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
    return (end - start).total_seconds()


async def _process(runtime: Runtime, tenants: list[TenantFile], console: Console, concurrency: int) -> list[RunRow]:
    from coordinator._service import inbox_emails
    from coordinator._worker import work

    run_ids: list[str] = []
    for tenant in tenants:
        for email in await inbox_emails(runtime.pool, tenant.tenant):
            run_ids.append(runtime.submit(tenant.tenant, email)[0])
    progress = Progress(
        TextColumn("[bold]processing inbox"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    )
    finished: set[str] = set()

    def on_done(run_id: str) -> None:
        if run_id not in finished and runtime.store.run(run_id).status != "running":
            finished.add(run_id)
            progress.update(task, completed=len(finished), description=f"last: {run_id}")

    with progress:
        task = progress.add_task("", total=len(run_ids))
        await work(runtime, concurrency=concurrency, until_idle=True, poll_seconds=0.05, on_done=on_done)
        progress.update(task, completed=len(run_ids))
    return [runtime.store.run(run_id) for run_id in run_ids]


def _report(console: Console, runs: list[RunRow], runtime: Runtime, home: Home) -> None:
    table = Table(title="Inbox processed by the coordinator", title_justify="left")
    for column in ("tenant", "message", "ticket", "category", "priority", "queue", "outcome", "tool calls", "latency"):
        ids = column in ("message", "ticket")  # never cut: they are copied into other commands
        table.add_column(
            column,
            justify="right" if column in ("tool calls", "latency") else "left",
            no_wrap=ids,
            overflow="ignore" if ids else "fold",
        )
    style = {"completed": "green", "escalated": "yellow", "awaiting_approval": "cyan", "failed": "red"}
    for run in runs:
        triage = run.result.get("triage", {})
        ticket = run.result.get("crm_writer", {}).get("ticket_id") or "-"
        table.add_row(
            run.tenant,
            run.source_key,
            ticket,
            triage.get("classification", {}).get("category", "-"),
            triage.get("priority", "-"),
            triage.get("queue", "-"),
            f"[{style.get(run.status, 'white')}]{run.status}[/]",
            str(run.tool_calls),
            f"{_latency(run):.2f}s",
        )
    console.print(table)
    latencies = sorted(_latency(r) for r in runs)
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else 0.0
    counts = {status: sum(1 for r in runs if r.status == status) for status in style}
    console.print(
        f"[bold]{len(runs)}[/] emails: [green]{counts['completed']} completed[/], "
        f"[yellow]{counts['escalated']} escalated[/], [cyan]{counts['awaiting_approval']} awaiting approval[/], "
        f"{counts['failed']} failed; latency p50 {statistics.median(latencies) if latencies else 0:.2f}s, "
        f"p95 {p95:.2f}s; {sum(r.tool_calls for r in runs)} MCP tool calls; "
        f"{sum(r.tokens for r in runs)} tokens ({runtime.model.name}), ${sum(r.cost_usd for r in runs):.4f}",
        highlight=False,
    )
    waiting = runtime.store.approvals()
    if waiting:
        approvals = id_table("Approvals waiting for a person", ("id",), ("tenant", "tool", "arguments", "why"))
        for row in waiting:
            approvals.add_row(row.id, row.tenant, row.tool, json.dumps(row.arguments), row.reason)
        console.print(approvals)
        first = waiting[0]
        console.print(
            f"To decide one, with the servers running (`deskhand --home {home.path} server serve NAME --http ...`), "
            "name the hash of the arguments you approve (`deskhand approvals show ID` prints both):\n"
            f"  deskhand --home {home.path} approvals approve {first.id} --hash {first.args_hash}",
            highlight=False,
            soft_wrap=True,
        )
    if runs:  # one run's whole story: the one waiting for a person if any, else the first
        shown = next((r for r in runs if r.status == "awaiting_approval"), runs[0])
        console.print(
            f"What became of an email, step by step:\n  deskhand --home {home.path} runs show {shown.id}",
            highlight=False,
            soft_wrap=True,
        )


async def _serve_console(home: Home, store: Store, console: Console) -> None:
    """The HTTP API and its console over the demo's store, on 127.0.0.1, until Ctrl-C; a viewer token of every
    tenant printed with the address (the socket listens before the address is printed)."""
    import uvicorn

    from coordinator.api import create_app
    from mcp_servers.kit import listening

    sock = listening("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    viewer = TokenIssuer(DevKeys.load(home.keys_dir, variable=signing_key_variable()), issuer=home.issuer).mint(
        tenant=None, scopes=[], audience=home.api_audience, roles=["viewer"], ttl_seconds=8 * 3600, subject="demo"
    )
    console.print(
        f"[bold]console[/]: {url}/console/  (API: {url}/v1, OpenAPI: {url}/v1/openapi.json); Ctrl-C stops it all\n"
        f"viewer token (every tenant, 8 hours), to sign in:\n{viewer}\n"
        f"an approver's: deskhand --home {home.path} api token --all-tenants --role viewer --role approver",
        highlight=False,
        soft_wrap=True,
    )
    server = uvicorn.Server(uvicorn.Config(create_app(home, store), log_level="warning", lifespan="off"))
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()


def run_demo(
    tenant_files: list[Path],
    inbox: Path | None,
    workspace: Path | None,
    concurrency: int,
    console: Console,
    workflows: dict[str, str] | None = None,
    *,
    serve_console: bool = False,
    pin: str | None = None,
) -> int:
    """`workflows`: the workflow a tenant runs instead of its file's (tenant → name), from the home's
    `workflows/` (the example workflows whose specialists are installed are copied there) or built in.
    `serve_console`: then keep the servers up and serve the HTTP API and console until Ctrl-C.
    `pin`: a tenant given servers of its own (own databases, own signing key) beside the shared ones."""
    from coordinator._service import open_runtime
    from coordinator.cli import _serve
    from mcp_servers.kit import setup_tracing

    setup_tracing("deskhand-coordinator")  # the servers, started below, set up their own

    tenants = _with_inbox([load_tenant_file(p) for p in tenant_files], inbox)
    tenants = [_running(t, (workflows or {}).get(t.tenant)) for t in tenants]
    if len(tenants) < 2:
        raise ConfigError("the demo needs at least two tenant files", field="tenants")
    path = workspace or Path(tempfile.mkdtemp(prefix="deskhand-demo-"))
    home = Home.defaults(path)
    home = home.with_servers(
        {name: ServerConfig(name, f"http://127.0.0.1:{free_port()}/mcp", cfg.db) for name, cfg in home.servers.items()}
    ).with_tenants([t.tenant for t in tenants])
    if pin is not None:
        if pin not in {t.tenant for t in tenants}:
            known = [t.tenant for t in tenants]
            raise ConfigError(f"--pin {pin!r}: not one of the demo's tenants {known}", field="pin")
        tier = home.with_pin(pin).pinned[pin]
        pinned = {name: replace(c, url=f"http://127.0.0.1:{free_port()}/mcp") for name, c in tier.items()}
        home = replace(home, pinned={pin: pinned})
        DevKeys.create(home.tenant_keys_dir(pin), variable=signing_key_variable(pin))
    home.save()
    DevKeys.create(home.keys_dir, variable=signing_key_variable())
    console.print(f"[bold]deskhand demo[/]: workspace {home.path}", highlight=False)
    _copy_example_workflows(home)
    _serve.prepare(home, tenants)
    console.print(
        f"  loaded {', '.join(f'{t.tenant} (workflow {t.policy.workflow})' for t in tenants)} "
        f"({sum(len(t.inbox) for t in tenants)} emails waiting) into the server databases",
        soft_wrap=True,
    )
    if pin is not None:
        console.print(
            f"  {pin} is pinned: servers of its own with their own databases ({home.tenant_dir(pin) / 'data'}) "
            f"and signing key ({home.tenant_keys_dir(pin)}); the other tenants use the shared servers",
            highlight=False,
            soft_wrap=True,
        )

    async def main() -> int:
        async with open_runtime(home, [t.tenant for t in tenants]) as runtime:
            runs = await _process(runtime, tenants, console, concurrency)
            _report(console, runs, runtime, home)
            if serve_console:
                await _serve_console(home, runtime.store, console)
            return 0 if runs and all(r.status != "running" for r in runs) else 1

    with running_servers(home, progress=lambda line: console.print(f"  {line}", highlight=False)) as servers:
        for s in servers.values():
            console.print(f"  {s.name:<16} pid {s.process.pid:<7} {s.url}", highlight=False)
        try:
            code = anyio.run(main)
        except KeyboardInterrupt:  # the console's Ctrl-C (the server passes it on once it has stopped)
            if not serve_console:
                raise
            code = 0
    console.print(f"servers stopped; workspace kept at {home.path} (data/, logs/, keys/)", highlight=False)
    return code


def _running(tenant: TenantFile, workflow: str | None) -> TenantFile:
    if workflow is None:
        return tenant
    return tenant.model_copy(update={"policy": tenant.policy.model_copy(update={"workflow": workflow})})


def _copy_example_workflows(home: Home) -> None:
    """The example workflows whose specialists are installed, into the home's `workflows/`."""
    from coordinator._registry import load_manifests
    from coordinator.workflow import load_workflow

    manifests = load_manifests()
    for path in sorted((examples_dir() / "workflows").glob("*.yaml")):
        try:
            load_workflow(path, manifests)
        except ConfigError:
            continue  # a specialist it needs is not installed
        home.workflows_dir.mkdir(parents=True, exist_ok=True)
        (home.workflows_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")


def _default_workflows(tenants: list[Path]) -> dict[str, str]:
    """With the example tenants and the example sentiment specialist installed, the last tenant runs the
    example workflow that adds it after triage (the others the built-in one)."""
    from coordinator._registry import load_manifests

    if "sentiment" not in load_manifests() or not tenants:
        return {}
    return {load_tenant_file(tenants[-1]).tenant: "support-mood"}


def examples_dir() -> Path:
    """The example tenants and inbox: examples/ of the repository, installed with deskhand as the data-only
    package `deskhand_examples` (editable or not).

    Found through the namespace package's path rather than `importlib.resources`, which on Python 3.11 cannot
    read a namespace package of an editable install."""
    import deskhand_examples  # type: ignore[import-not-found]  # data only: no module for mypy to read

    for entry in deskhand_examples.__path__:
        if (Path(entry) / "tenants").is_dir():
            return Path(entry)
    raise ConfigError("the example tenants are not installed with deskhand: pass --tenants FILE (twice)")


def demo(
    tenants: Annotated[
        list[Path] | None,
        typer.Option("--tenants", metavar="FILE", help="Tenant files; default: the example tenants (acme, northwind)."),
    ] = None,
    inbox: Annotated[
        Path | None,
        typer.Option("--inbox", metavar="FILE", help="More emails (JSON lines); default: the example inbox."),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", metavar="DIR", help="Folder for the run (default: a new temporary one)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="Handoffs at once.")] = 4,
    workflow: Annotated[
        list[str] | None,
        typer.Option(
            "--workflow",
            metavar="TENANT=NAME",
            help="Run a tenant on another workflow (built in, or an example one whose specialists are installed).",
        ),
    ] = None,
    console: Annotated[
        bool,
        typer.Option(
            "--console",
            help="Then keep the servers running and serve the HTTP API and console on 127.0.0.1 until Ctrl-C.",
        ),
    ] = False,
    pin: Annotated[
        str | None,
        typer.Option(
            "--pin",
            metavar="TENANT",
            help="Run this tenant on servers of its own (own databases and signing key) beside the shared ones.",
        ),
    ] = None,
) -> None:
    """The main job on one box: four MCP servers as processes, both tenants' inboxes through the coordinator.
    With the example sentiment specialist installed (`pip install -e examples/specialist-package`), the second
    example tenant runs the example workflow that adds it after triage."""
    examples = examples_dir()
    chosen = tenants if tenants is not None else sorted((examples / "tenants").glob("*.yaml"))
    pairs = [w.partition("=") for w in workflow or []]
    if any(not t or not n for t, _, n in pairs):
        raise typer.BadParameter("expected TENANT=NAME", param_hint="--workflow")
    chosen_workflows = (
        {t: n for t, _, n in pairs} if workflow else (_default_workflows(chosen) if tenants is None else {})
    )
    inbox_file = inbox if inbox is not None else examples / "inbox.jsonl"
    code = run_demo(chosen, inbox_file, workspace, concurrency, out, chosen_workflows, serve_console=console, pin=pin)
    raise typer.Exit(code)
