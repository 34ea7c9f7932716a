"""`deskhand work`, `submit`, `replay` and `graph`: runs put in the store and worked through the specialists."""

from __future__ import annotations

import contextlib
import faulthandler
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import typer
from pydantic import BaseModel, ValidationError

from coordinator.cli._context import DbOption, ModelOption, err, globals_of, out, print_json
from coordinator.store import Store
from coordinator.workflow import EventName
from schemas import ConfigError, InboundEmail, InvalidArgument, NotFound

# The runtime is imported by the commands that run it, not here: every command (`deskhand server serve` too)
# loads this module.
if TYPE_CHECKING:
    from starlette.routing import Route

    from coordinator import Home
    from coordinator.runtime import Runtime


def work(
    ctx: typer.Context,
    db: DbOption = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Handoffs at once.")] = 4,
    model: ModelOption = "offline",
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Stop when nothing is left to do.")] = False,
    lease: Annotated[float, typer.Option("--lease", min=1.0, help="Lease seconds of a claimed handoff.")] = 60.0,
    model_latency: Annotated[
        float,
        typer.Option(
            "--model-latency",
            min=0.0,
            max=600.0,
            help="Offline model only: seconds each judgment takes, as a hosted model's would (load tests).",
        ),
    ] = 0.0,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            metavar="HOST:PORT",
            help="Serve Prometheus metrics at http://HOST:PORT/metrics, for a token of the API's audience bound to "
            "every tenant (`deskhand token metrics`).",
        ),
    ] = None,
) -> None:
    """Run coordinator workers: claim handoffs and run them through the specialists.

    Ctrl-C or SIGTERM: claim nothing more, finish the handoffs in hand, give back the next ones
    held, and exit 0; a second signal stops at once (the leases then expire, and another worker
    takes those handoffs over). `kill -USR1 <pid>` prints every thread's stack to stderr.

    With PROMETHEUS_MULTIPROC_DIR set, the worker counts its metrics there even without --metrics: any
    process of that directory that serves /metrics (the API, another worker) reports them."""
    from coordinator._service import open_runtime
    from coordinator._worker import work as run_workers
    from coordinator.models import OfflineModel
    from coordinator.runtime import RuntimeSettings
    from coordinator.telemetry import CoordinatorMetrics, metrics_address, serving_metrics
    from mcp_servers.kit import multiprocess, setup_tracing

    home = globals_of(ctx).home()
    if metrics is not None:
        metrics_address(metrics)  # a mistake in it is told before anything starts
    setup_tracing("deskhand-coordinator")
    if model_latency and model != "offline":
        raise ConfigError("--model-latency simulates a hosted model's wait: it needs --model offline", field="model")
    if hasattr(signal, "SIGUSR1") and sys.__stderr__ is not None:  # not on Windows
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)  # the process's own stderr

    async def main() -> None:
        settings = RuntimeSettings(lease_seconds=lease)
        async with (
            open_runtime(
                home,
                list(home.tenants),
                db=db,
                model=OfflineModel(latency=model_latency) if model_latency else model,
                settings=settings,
            ) as rt,
            contextlib.AsyncExitStack() as stack,
        ):
            if metrics is not None or multiprocess():
                rt.metrics = CoordinatorMetrics()
            if metrics is not None:
                url = stack.enter_context(serving_metrics(_metrics_route(home, rt), metrics))
                err.print(f"deskhand work: metrics at {url}", highlight=False)
            stopping = _Stopping()
            async with anyio.create_task_group() as tg:
                await tg.start(stopping.on_signals, tg.cancel_scope)
                err.print(f"deskhand work: working, {concurrency} at a time", highlight=False)  # started
                await run_workers(rt, concurrency=concurrency, until_idle=until_idle, stop=stopping.asked)
                tg.cancel_scope.cancel()
            if stopping.forced:
                raise typer.Exit(130)

    anyio.run(main)


def _metrics_route(home: Home, runtime: Runtime) -> Route:
    """A worker's `/metrics`: its runtime's metrics and the store's gauges, for the API's tokens."""
    from coordinator.api import API_ROLES
    from coordinator.telemetry import metrics_route
    from mcp_servers.kit import JwtVerifier, KeySet

    assert runtime.metrics is not None
    verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.api_audience)
    default = runtime.settings.tenant_daily_spend_usd
    limits = {
        tenant: default if policy.limits.daily_spend_usd is None else policy.limits.daily_spend_usd
        for tenant, policy in runtime.policies.items()
    }
    return metrics_route(runtime.metrics, runtime.store, lambda: limits, verifier, API_ROLES)


def read_event(path: Path, model: type[BaseModel]) -> BaseModel:
    """An event file checked field by field against `model`; an email's sender may be given as `from`
    (`{"from": ..., "subject": ..., "body": ...}`)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file: {exc}") from exc
    email = model is InboundEmail
    if email and isinstance(data, dict) and "from" in data and "sender" not in data:
        data["sender"] = data.pop("from")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        field = "from" if email and field == "sender" else field
        raise ConfigError(f"{path}: {field}: {first['msg']}", field=field) from exc


def submit(
    ctx: typer.Context,
    event_file: Annotated[
        Path,
        typer.Argument(
            metavar="EVENT.json",
            help='An email: {"from": ..., "subject": ..., "body": ...}; an account review: {"account_id": ..., '
            '"reason": ..., "requested_by": ..., "contacts": [...]}.',
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the event is for (one `init` loaded).")],
    event: Annotated[EventName, typer.Option("--event", help="What the file holds.")] = "email",
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            "-w",
            help="The workflow the run goes through (default: the tenant's own, else the one that starts from "
            "--event).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="What started the run: one run per source (default: the message id, else the content)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Submit one event (an inbound email, or an account review): its run is written to the store, and running
    workers pick it up.

    No server is asked: the tenant is checked against the home (the tenants `deskhand init` loaded)."""
    from coordinator._submission import home_workflows, workflow_for
    from coordinator._submission import submit as start_run
    from coordinator.workflow import EVENTS
    from mcp_servers.kit import setup_tracing

    options = globals_of(ctx)
    home = options.home()
    if tenant not in home.tenants:
        raise NotFound(f"--tenant {tenant!r}: not loaded here; known: {list(home.tenants)}", field="tenant")
    try:
        chosen = workflow_for(home, home_workflows(home), tenant, event, workflow)
    except InvalidArgument as exc:  # on the command line, a usage error
        raise typer.BadParameter(exc.message, param_hint="'--workflow'") from None
    data = read_event(event_file, EVENTS[event])
    setup_tracing("deskhand-coordinator")  # the run's root span is opened here
    store = Store(db or home.coordinator_db)
    try:
        run_id, new = start_run(home, store, tenant, data, chosen, source=source)
    finally:
        store.dispose()
    if options.json:
        print_json({"run": run_id, "new": new})
    else:
        out.print(f"{'submitted' if new else 'already submitted'}: run {run_id}", highlight=False)


def replay(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID", help="The run to replay.")],
    db: DbOption = None,
) -> None:
    """Re-run a recorded run from its record alone and say where it differs."""
    from coordinator._replay import replay as replay_run
    from coordinator._service import open_runtime

    options = globals_of(ctx)
    home = options.home()
    store = Store(db or home.coordinator_db)

    async def main() -> Any:
        run = store.run(run_id)
        async with open_runtime(home, [run.tenant], db=db) as runtime:
            return await replay_run(store, dict(runtime.specialists), dict(runtime.policies), run_id)

    try:
        result = anyio.run(main)
    finally:
        store.dispose()
    if options.json:
        print_json(
            {
                "run": run_id,
                "identical": result.identical,
                "steps": [{"step": s, "specialist": n, "outcome": o} for s, n, o in result.steps],
            }
        )
    else:
        for step, specialist, outcome in result.steps:
            out.print(f"step {step} {specialist:<11} {outcome}", highlight=False)
        out.print("identical to the record" if result.identical else "differs from the record", highlight=False)
    if not result.identical:
        raise typer.Exit(1)


def graph(
    ctx: typer.Context,
    workflow: Annotated[str | None, typer.Option("--workflow", "-w", help="A workflow by name.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="The workflow a tenant runs.")] = None,
    mermaid: Annotated[bool, typer.Option("--mermaid", help="Print Mermaid instead of text.")] = False,
) -> None:
    """Print a workflow (default: the built-in `support-inbox`): the steps, the conditions of each edge, the loop
    limits and the end states, from the same data the router runs. The home's `workflows/` are loaded too."""
    from coordinator._registry import load_manifests
    from coordinator.workflow import load_workflows, workflow_mermaid, workflow_text

    if workflow is not None and tenant is not None:
        raise typer.BadParameter("give --workflow or --tenant, not both")
    from coordinator._submission import loaded_workflow

    options = globals_of(ctx)
    manifests = load_manifests()
    workflows = load_workflows(options.home_path / "workflows", manifests)
    name = workflow or "support-inbox"
    if tenant is not None:
        home = options.home()
        if tenant not in home.tenants:
            raise NotFound(f"tenant {tenant!r} is not loaded in {home.path}; loaded: {', '.join(home.tenants)}")
        name = loaded_workflow(home, tenant)
    if name not in workflows:
        raise NotFound(f"no workflow {name!r}; loaded: {', '.join(sorted(workflows))}")
    print(workflow_mermaid(workflows[name]) if mermaid else workflow_text(workflows[name]))


class _Stopping:
    """How `deskhand work` stops: the first SIGINT or SIGTERM sets `asked` (the workers finish the handoffs
    in hand); the second cancels them at once (`forced`, exit 130). Where the event loop cannot take
    signals (Windows), Ctrl-C keeps Python's default: stop at once."""

    def __init__(self) -> None:
        self.asked = anyio.Event()
        self.forced = False

    async def on_signals(
        self, scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        try:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                task_status.started()
                async for signum in signals:
                    name = signal.Signals(signum).name
                    if self.asked.is_set():
                        err.print(f"{name} again: stopping now")
                        self.forced = True
                        scope.cancel()
                        return
                    err.print(f"{name}: finishing the handoffs in hand, then stopping (again to stop now)")
                    self.asked.set()
        except NotImplementedError:
            task_status.started()
