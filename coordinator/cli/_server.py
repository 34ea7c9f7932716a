"""`deskhand server serve|list`: run one MCP server, and show the home's servers."""

from __future__ import annotations

from typing import Annotated

import typer

from coordinator._home import ServerConfig
from coordinator.cli._context import globals_of, id_table, noun, out, print_json
from schemas import ConfigError

app = noun("The MCP servers: run one, or list the home's.")


@app.command("serve")
def serve(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The server to run: any installed one.", show_default=False)
    ],
    stdio: Annotated[
        bool, typer.Option("--stdio", help="Serve on stdin/stdout; the token comes from $DESKHAND_TOKEN.")
    ] = False,
    http: Annotated[str | None, typer.Option("--http", metavar="HOST:PORT", help="Serve streamable HTTP.")] = None,
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL (sqlite:///FILE or postgresql://...).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Canonical URL of the MCP endpoint (token audience); "
            "default: from deskhand.toml, or http://HOST:PORT/mcp.",
        ),
    ] = None,
    jwks: Annotated[
        str | None, typer.Option("--jwks", metavar="FILE|URL", help="JWKS to trust; default: the home's.")
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", metavar="URL", help="Token issuer to trust; default: the home's.")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Sustained tool calls a second per tenant, then rate_limited (default 50)."),
    ] = None,
    burst: Annotated[
        int | None, typer.Option("--burst", help="Calls a tenant may make at once before --rate applies (default 200).")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            metavar="TENANT",
            help="Serve this pinned tenant only: its URL and database from [pinned.TENANT.NAME] in deskhand.toml, "
            "its own keys; any other tenant's token is refused with 401.",
        ),
    ] = None,
) -> None:
    """Run one MCP server over stdio or HTTP: crm, helpdesk, knowledge, mailbox, or any installed package's
    (the entry-point group deskhand.servers); with --tenant, the server pinned to one tenant."""
    from coordinator.cli import _serve
    from coordinator.cli._context import err
    from mcp_servers.kit import setup_tracing

    if stdio == (http is not None):
        raise ConfigError("choose exactly one of --stdio or --http HOST:PORT", field="transport")
    home = globals_of(ctx).home()
    config = home.server(name) if tenant is None else home.pinned_server(tenant, name)
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
    setup_tracing(f"deskhand-{config.name}")
    server = _serve.build(config.name, config.db, _serve.boundary_settings(rate, burst), home)
    server.create_tables()
    verifier = _serve.verifier_for(home, config, jwks, issuer, tenant=tenant)
    if stdio:
        _serve.serve_stdio(server, verifier)
    else:
        pinned = f" for tenant {tenant} only" if tenant is not None else ""
        err.print(f"deskhand: {config.name} serving MCP at {config.url}{pinned}", highlight=False)
        _serve.serve_http(server, verifier, host, port, config.url)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The home's servers, shared and pinned to a tenant: the URL each is served at (the tokens' audience), its
    database, and the scopes its tools need when its package is installed here (a server only reached here, on
    another host, shows none)."""
    from mcp_servers.kit import load_servers

    home = globals_of(ctx).home()
    packages = load_servers()
    servers: list[tuple[str | None, ServerConfig]] = [(None, s) for s in home.servers.values()]
    servers += [(tenant, s) for tenant, tier in home.pinned.items() for s in tier.values()]
    if globals_of(ctx).json:
        print_json(
            [
                {
                    "name": s.name,
                    "tenant": tenant,
                    "url": s.url,
                    "db": s.db,
                    "installed": s.name in packages,
                    "scopes": list(packages[s.name].scopes) if s.name in packages else [],
                }
                for tenant, s in servers
            ]
        )
        return
    table = id_table(f"servers of {home.path}", ("name", "url"), ("scopes", "db"))
    for tenant, s in servers:
        scopes = " ".join(packages[s.name].scopes) if s.name in packages else "(not installed here)"
        table.add_row(s.name if tenant is None else f"{tenant}/{s.name}", s.url, scopes, s.db)
    out.print(table)
