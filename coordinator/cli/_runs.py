"""`deskhand work`, `submit`, `approvals` and `graph`: running the coordinator against running servers."""

from __future__ import annotations

import faulthandler
import json
import signal
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from coordinator._home import Home, default_home
from coordinator.store import ApprovalRow, Store
from mcp_servers.kit import JwtVerifier, KeySet
from schemas import ConfigError, InboundEmail, Principal, Unauthenticated, args_hash

# The runtime is imported by the commands that run it, not here: every command (`deskhand serve` too) loads this module.
out = Console()
err = Console(stderr=True)
HomeOption = Annotated[
    Path,
    typer.Option(
        "--home",
        help="Keys, databases and deskhand.toml. Default: $DESKHAND_HOME, else ~/.deskhand.",
        default_factory=default_home,
        show_default=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Coordinator store URL (default: the home's SQLite file; postgresql://... for many workers)."
    ),
]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="DESKHAND_APPROVER_TOKEN", help="An approver token of the approval's tenant.")
]
HashOption = Annotated[
    str,
    typer.Option(
        "--hash", help="The arguments' hash of the call you decide, as `approvals list` or `approvals show` print it."
    ),
]
ModelOption = Annotated[str, typer.Option("--model", help="offline (default) or anthropic (needs ANTHROPIC_API_KEY).")]


def _model(name: str) -> str:
    from coordinator.models import backend_names

    if name not in backend_names():
        raise ConfigError(f"--model {name!r}: expected one of {', '.join(backend_names())}", field="model")
    return name


def register(app: typer.Typer) -> None:
    approvals = typer.Typer(help="Calls that wait for a person's approval.", no_args_is_help=True)
    app.add_typer(approvals, name="approvals")

    @app.command()
    def work(
        home: HomeOption,
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
    ) -> None:
        """Run coordinator workers: claim handoffs and run them through the specialists.

        Ctrl-C or SIGTERM: claim nothing more, finish the handoffs in hand, give back the next ones
        held, and exit 0; a second signal stops at once (the leases then expire, and another worker
        takes those handoffs over). `kill -USR1 <pid>` prints every thread's stack to stderr."""
        from coordinator._service import open_runtime
        from coordinator._worker import work as run_workers
        from coordinator.models import OfflineModel
        from coordinator.runtime import RuntimeSettings

        home_obj = Home.load(home)
        backend = _model(model)
        if model_latency and backend != "offline":
            raise ConfigError(
                "--model-latency simulates a hosted model's wait: it needs --model offline", field="model"
            )
        if hasattr(signal, "SIGUSR1"):  # not on Windows
            faulthandler.register(signal.SIGUSR1, all_threads=True)

        async def main() -> None:
            settings = RuntimeSettings(lease_seconds=lease)
            async with open_runtime(
                home_obj,
                list(home_obj.tenants),
                db=db,
                model=OfflineModel(latency=model_latency) if model_latency else backend,
                settings=settings,
            ) as rt:
                stopping = _Stopping()
                async with anyio.create_task_group() as tg:
                    await tg.start(stopping.on_signals, tg.cancel_scope)
                    err.print(f"deskhand work: working, {concurrency} at a time", highlight=False)  # started
                    await run_workers(rt, concurrency=concurrency, until_idle=until_idle, stop=stopping.asked)
                    tg.cancel_scope.cancel()
                if stopping.forced:
                    raise typer.Exit(130)

        anyio.run(main)

    @app.command()
    def submit(
        email_file: Annotated[
            Path, typer.Argument(metavar="EMAIL.json", help='{"from": ..., "subject": ..., "body": ...}')
        ],
        tenant: Annotated[str, typer.Option("--tenant", help="The tenant the email was sent to.")],
        home: HomeOption,
        db: DbOption = None,
    ) -> None:
        """Submit one inbound email; running workers pick it up."""
        from coordinator._service import open_runtime

        try:
            data = json.loads(email_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{email_file}: not a readable JSON file: {exc}") from exc
        if isinstance(data, dict) and "from" in data and "sender" not in data:
            data["sender"] = data.pop("from")
        try:
            email = InboundEmail.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"]) or "(top level)"
            field = "from" if field == "sender" else field
            raise ConfigError(f"{email_file}: {field}: {first['msg']}", field=field) from exc
        home_obj = Home.load(home)
        if tenant not in home_obj.tenants:
            raise ConfigError(f"--tenant {tenant!r}: not loaded here; known: {list(home_obj.tenants)}", field="tenant")

        async def main() -> tuple[str, bool]:
            async with open_runtime(home_obj, [tenant], db=db) as runtime:
                return runtime.submit(tenant, email)

        run_id, new = anyio.run(main)
        out.print(f"{'submitted' if new else 'already submitted'}: run {run_id}", highlight=False)

    @app.command()
    def replay(
        run_id: Annotated[str, typer.Argument(help="The run to replay.")],
        home: HomeOption,
        db: DbOption = None,
    ) -> None:
        """Re-run a recorded run from its record alone and say where it differs."""
        from coordinator._replay import replay as replay_run
        from coordinator._service import open_runtime

        home_obj = Home.load(home)
        store = Store(db or home_obj.coordinator_db)

        async def main() -> Any:
            run = store.run(run_id)
            async with open_runtime(home_obj, [run.tenant], db=db) as runtime:
                return await replay_run(store, dict(runtime.specialists), dict(runtime.policies), run_id)

        try:
            result = anyio.run(main)
        finally:
            store.dispose()
        for step, specialist, outcome in result.steps:
            out.print(f"step {step} {specialist:<11} {outcome}", highlight=False)
        out.print("identical to the record" if result.identical else "differs from the record", highlight=False)
        if not result.identical:
            raise typer.Exit(1)

    @app.command()
    def graph(
        mermaid: Annotated[bool, typer.Option("--mermaid", help="Print Mermaid instead of text.")] = False,
    ) -> None:
        """Print the routing graph."""
        from coordinator._router import graph_mermaid, graph_text

        print(graph_mermaid() if mermaid else graph_text())

    @approvals.command("list")
    def approvals_list(home: HomeOption, token: TokenOption = "", db: DbOption = None) -> None:
        """The approvals of the token's tenant waiting for a decision, with the hash a decision names."""
        from coordinator.runtime import check_approver

        home_obj = Home.load(home)
        principal = anyio.run(_approver, home_obj, token)
        check_approver(principal, principal.tenant)
        store = Store(db or home_obj.coordinator_db)
        try:
            rows = store.approvals(tenant=principal.tenant)
        finally:
            store.dispose()
        table = Table(title=f"{len(rows)} approvals waiting ({principal.tenant})", title_justify="left")
        for column in ("id", "run", "tool", "arguments", "why", "expires"):
            table.add_column(column)
        table.add_column("hash (--hash)", no_wrap=True, min_width=64)
        for row in rows:
            table.add_row(
                row.id,
                row.run_id,
                row.tool,
                json.dumps(row.arguments),
                row.reason,
                f"{row.expires_at:%Y-%m-%d %H:%M}",
                row.args_hash,
            )
        out.print(table)

    @approvals.command("show")
    def approvals_show(approval_id: str, home: HomeOption, token: TokenOption = "", db: DbOption = None) -> None:
        """One approval: the exact arguments the call would be made with, and their hash."""
        from coordinator.runtime import check_approver

        home_obj = Home.load(home)
        principal = anyio.run(_approver, home_obj, token)
        store = Store(db or home_obj.coordinator_db)
        try:
            row = store.approval(approval_id)
        finally:
            store.dispose()
        check_approver(principal, row.tenant)
        out.print(
            f"{row.id} ({row.status}) run {row.run_id}, tenant {row.tenant}\n"
            f"tool: {row.tool}\nwhy: {row.reason}\nexpires: {row.expires_at:%Y-%m-%d %H:%M} UTC\n"
            f"hash: {row.args_hash}\narguments:\n{json.dumps(row.arguments, indent=2, ensure_ascii=False)}",
            highlight=False,
            markup=False,
        )
        if args_hash(row.arguments) != row.args_hash:
            err.print(
                f"warning: these arguments' hash is {args_hash(row.arguments)}, not the one proposed: "
                "they were changed in the store, and approving will not make the call",
                highlight=False,
                markup=False,
            )

    def decide(approval_id: str, home: Path, db: str | None, token: str, seen_hash: str, approve: bool) -> None:
        from coordinator._service import issuer_of
        from coordinator._sessions import SessionPool, http_connector
        from coordinator.models import OfflineModel
        from coordinator.runtime import Runtime, check_approver

        home_obj = Home.load(home)

        async def main() -> ApprovalRow:
            principal = await _approver(home_obj, token)
            store = Store(db or home_obj.coordinator_db)
            try:
                approval = store.approval(approval_id)
            finally:
                store.dispose()
            check_approver(principal, approval.tenant)
            # deciding needs the store and, to make an approved call, that one tool's server: not the
            # specialists' sessions nor the tenants' policies (which `open_runtime` fetches from every server)
            urls = {name: server.url for name, server in home_obj.servers.items()}
            connect = http_connector(urls, issuer_of(home_obj))
            store = Store(db or home_obj.coordinator_db)
            try:
                async with SessionPool(connect) as pool:
                    runtime = Runtime(store=store, specialists={}, pool=pool, model=OfflineModel(), policies={})
                    return await runtime.decide(
                        approval_id,
                        tenant=principal.tenant,
                        actor=principal.subject,
                        approve=approve,
                        seen_hash=seen_hash,
                        connect_tool=connect,
                    )
            finally:
                store.dispose()

        row = anyio.run(main)
        text = f"{row.id}: {row.status}" + (f" → {json.dumps(row.result)}" if row.result else "")
        if row.status == "failed":  # decided, but the call was not made: say so, and exit non-zero
            err.print(f"{text}\nthe run is escalated", highlight=False, markup=False)
            raise typer.Exit(1)
        out.print(text, highlight=False, markup=False)

    @approvals.command("approve")
    def approvals_approve(
        approval_id: str, home: HomeOption, seen_hash: HashOption, token: TokenOption = "", db: DbOption = None
    ) -> None:
        """Approve: the exact call that was parked (the one with this hash) runs, once."""
        decide(approval_id, home, db, token, seen_hash, True)

    @approvals.command("reject")
    def approvals_reject(
        approval_id: str, home: HomeOption, seen_hash: HashOption, token: TokenOption = "", db: DbOption = None
    ) -> None:
        """Reject: the call never runs and the run is escalated."""
        decide(approval_id, home, db, token, seen_hash, False)


async def _approver(home: Home, token: str) -> Principal:
    """The principal of an approver token for this home's approvals audience (its role is checked per approval)."""
    if not token:
        raise Unauthenticated(
            "give --token (or $DESKHAND_APPROVER_TOKEN): an approver token, e.g. "
            f"`deskhand token mint --tenant T --role approver --audience {home.approvals_audience}`"
        )
    verifier = JwtVerifier(KeySet.from_file(home.jwks_path), issuer=home.issuer, audience=home.approvals_audience)
    return await verifier.verify_principal(token)


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
