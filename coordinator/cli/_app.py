"""The `deskhand` command line (DESIGN §8)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from coordinator._home import Home, default_home
from coordinator._tokens import DevKeys, TokenIssuer, parse_ttl
from schemas import BUILTIN_ROLES, SERVER_NAMES, ConfigError, DeskhandError, load_tenant_file, server_of_scope

app = typer.Typer(
    name="deskhand",
    help="Run AI agents on a support inbox, with tenant-scoped MCP servers at the boundary.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Development tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")

err = Console(stderr=True)
out = Console()

HomeOption = Annotated[
    Path,
    typer.Option(
        "--home",
        help="Keys, databases and deskhand.toml. Default: $DESKHAND_HOME, else ~/.deskhand.",
        default_factory=default_home,
        show_default=False,
    ),
]


def main() -> None:
    """Entry point of the `deskhand` console script: errors we expect are one clear line, exit 2."""
    try:
        app()
    except DeskhandError as exc:
        err.print(f"[bold red]error[/] ({exc.code}): {exc.message}", highlight=False)
        sys.exit(2)


@app.command()
def init(
    home: HomeOption,
    tenants: Annotated[
        list[Path] | None, typer.Option("--tenants", help="Tenant files (YAML) to load; repeatable.")
    ] = None,
) -> None:
    """Create the keys, databases and config, and load tenant files (safe to run again)."""
    from coordinator.cli import _serve

    files = [load_tenant_file(p) for p in tenants or []]  # validate every file before touching anything
    home_obj = Home.load(home) if (home / "deskhand.toml").exists() else Home.defaults(home)
    home_obj = home_obj.with_tenants([f.tenant for f in files])
    home_obj.save()
    DevKeys.create(home_obj.keys_dir)
    _serve.prepare(home_obj, files, progress=lambda line: out.print(f"  {line}", highlight=False))
    out.print(f"[green]ready[/]: {home_obj.path}")
    out.print(f"  config  {home_obj.config_path}")
    out.print(f"  jwks    {home_obj.jwks_path}")
    for name, server in home_obj.servers.items():
        out.print(f"  {name:<9} {server.url}  ({server.db})", highlight=False)
    if not files:
        out.print("  no tenants loaded: pass --tenants examples/tenants/acme.yaml (repeatable)")


@app.command()
def serve(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(SERVER_NAMES)}.")],
    home: HomeOption,
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Serve on stdin/stdout; the token comes from $DESKHAND_TOKEN.")
    ] = False,
    http: Annotated[str | None, typer.Option("--http", metavar="HOST:PORT", help="Serve streamable HTTP.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (sqlite:///FILE or postgresql://...).")] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Canonical URL of the MCP endpoint (token audience); "
            "default: from deskhand.toml, or http://HOST:PORT/mcp.",
        ),
    ] = None,
    jwks: Annotated[str | None, typer.Option("--jwks", help="JWKS file or URL to trust; default: the home's.")] = None,
    issuer: Annotated[str | None, typer.Option("--issuer", help="Token issuer to trust; default: the home's.")] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Sustained tool calls a second per tenant, then rate_limited (default 50)."),
    ] = None,
    burst: Annotated[
        int | None, typer.Option("--burst", help="Calls a tenant may make at once before --rate applies (default 200).")
    ] = None,
) -> None:
    """Run one MCP server (crm, helpdesk, knowledge, mailbox) over stdio or HTTP."""
    from coordinator.cli import _serve

    if stdio == (http is not None):
        raise ConfigError("choose exactly one of --stdio or --http HOST:PORT", field="transport")
    home_obj = Home.load(home)
    config = home_obj.server(name)
    host, port = "", 0
    if http is not None:
        host, _, port_text = http.rpartition(":")
        if not host or not port_text.isdigit():
            raise ConfigError(f"--http {http!r}: expected HOST:PORT such as 127.0.0.1:8701", field="http")
        port = int(port_text)
        default_url = config.url if config.url.startswith(f"http://{host}:{port}/") else f"http://{host}:{port}/mcp"
        config = type(config)(config.name, url or default_url, config.db)
    elif url:
        config = type(config)(config.name, url, config.db)
    if db:
        config = type(config)(config.name, config.url, db)
    server = _serve.build(config.name, config.db, _serve.boundary_settings(rate, burst))
    server.create_tables()
    verifier = _serve.verifier_for(home_obj, config, jwks, issuer)
    if stdio:
        _serve.serve_stdio(server, verifier)
    else:
        err.print(f"deskhand: {config.name} serving MCP at {config.url}", highlight=False)
        _serve.serve_http(server, verifier, host, port, config.url)


@app.command()
def demo(
    tenants: Annotated[
        list[Path] | None, typer.Option("--tenants", help="Tenant files; default: examples/tenants/*.yaml.")
    ] = None,
    inbox: Annotated[
        Path | None, typer.Option("--inbox", help="More emails (JSON lines); default: examples/inbox.jsonl.")
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="Folder for the run (default: a new temporary one).")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="Handoffs at once.")] = 4,
) -> None:
    """The main job on one box: four MCP servers as processes, both tenants' inboxes through the coordinator."""
    from coordinator.cli._demo import run_demo

    files = tenants or sorted(Path("examples/tenants").glob("*.yaml"))
    if not files:
        raise ConfigError(
            "no tenant files: run from the repository root or pass --tenants FILE (twice)", field="tenants"
        )
    sample = (
        inbox
        if inbox is not None
        else (Path("examples/inbox.jsonl") if Path("examples/inbox.jsonl").exists() else None)
    )
    raise typer.Exit(run_demo(files, sample, workspace, concurrency, out))


from coordinator.cli import _eval, _runs  # noqa: E402  (the commands below the app they register on)

_runs.register(app)
_eval.register(app)


@token_app.command("mint")
def token_mint(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the token acts for.")],
    home: HomeOption,
    scopes: Annotated[str, typer.Option("--scopes", help="Comma-separated scopes, e.g. crm:read,kb:read.")] = "",
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"Add a role's scopes ({', '.join(BUILTIN_ROLES)}).")
    ] = None,
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="Server URL(s); default: the servers of the scopes.")
    ] = None,
    ttl: Annotated[str, typer.Option("--ttl", help="Lifetime: 90s, 15m, 2h, 1d.")] = "15m",
    subject: Annotated[str, typer.Option("--subject", help="Who the token is for.")] = "deskhand-cli",
) -> None:
    """Print a signed development token for one tenant, with only the scopes asked for."""
    home_obj = Home.load(home)
    scope_set = {s.strip() for s in scopes.split(",") if s.strip()}
    for r in role or []:
        if r not in BUILTIN_ROLES:
            raise ConfigError(f"unknown role {r!r}; expected one of {list(BUILTIN_ROLES)}", field="role")
        scope_set |= set(BUILTIN_ROLES[r])
    if not scope_set:
        raise ConfigError("give --scopes or --role", field="scopes")
    try:
        servers = sorted({server_of_scope(s) for s in scope_set})
    except ValueError as exc:
        raise ConfigError(str(exc), field="scopes") from exc
    audiences = audience or [home_obj.server(s).url for s in servers]
    token = TokenIssuer(DevKeys.load(home_obj.keys_dir), issuer=home_obj.issuer).mint(
        tenant=_tenant_id(tenant),
        scopes=scope_set,
        audience=audiences[0] if len(audiences) == 1 else audiences,
        ttl_seconds=parse_ttl(ttl),
        subject=subject,
        roles=role or [],
    )
    print(token)


def _tenant_id(text: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from schemas import TenantId

    try:
        return TypeAdapter(TenantId).validate_python(text)
    except ValidationError:
        raise ConfigError(
            f"--tenant {text!r}: expected lower-case letters, digits and dashes (e.g. acme)", field="tenant"
        ) from None
