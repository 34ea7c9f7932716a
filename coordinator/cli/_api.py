"""`deskhand api serve|token`: the HTTP API over the home's store, and tokens for it."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from coordinator.cli._context import DbOption, err, globals_of, noun, print_json
from schemas import ConfigError, NotFound

app = noun("The HTTP API: runs, approvals and usage over the workers' store.")


class ApiRoleChoice(StrEnum):
    """The roles `api token --role` offers (a test keeps them equal to `coordinator.api.API_ROLES`)."""

    viewer = "viewer"
    operator = "operator"
    approver = "approver"


@app.command("serve")
def serve(
    ctx: typer.Context,
    http: Annotated[str, typer.Option("--http", metavar="HOST:PORT", help="Where to listen, e.g. 127.0.0.1:8710.")],
    db: DbOption = None,
    jwks: Annotated[
        str | None,
        typer.Option("--jwks", metavar="PATH|URL", help="Trust these keys (an IdP's JWKS URL); default: the home's."),
    ] = None,
    issuer: Annotated[
        str | None, typer.Option("--issuer", metavar="URL", help="The trusted issuer; default: the home's.")
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /v1/openapi.json) until Ctrl-C, over the same store as the workers.

    Tokens: `deskhand api token` (audience: the home's issuer + /api)."""
    import anyio
    import uvicorn

    from coordinator.api import create_app
    from coordinator.store import Store
    from mcp_servers.kit import JwksUrl, JwtVerifier, KeySet, listening, setup_tracing

    home = globals_of(ctx).home()
    setup_tracing("deskhand-api")
    host, _, port_text = http.rpartition(":")
    if not host or not port_text.isdigit():
        raise ConfigError(f"--http {http!r}: expected HOST:PORT such as 127.0.0.1:8710", field="http")
    verifier = None
    if jwks is not None or issuer is not None:
        source = jwks or str(home.jwks_path)
        try:
            keys = JwksUrl(source) if source.startswith(("http://", "https://")) else KeySet.from_file(Path(source))
        except ValueError as exc:
            raise ConfigError(str(exc), field="jwks") from exc
        verifier = JwtVerifier(keys, issuer=issuer or home.issuer, audience=home.api_audience)
    store = Store(db or home.coordinator_db)
    try:
        server = uvicorn.Server(
            uvicorn.Config(create_app(home, store, verifier=verifier), log_level="warning", lifespan="off")
        )
        with listening(host, int(port_text)) as sock:  # listening before it says so: a client may connect then
            err.print(f"deskhand api: serving http://{http} (OpenAPI at /v1/openapi.json)", highlight=False)
            with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops on Ctrl-C, then re-raises it: exit 0
                anyio.run(lambda: server.serve(sockets=[sock]))
    finally:
        store.dispose()


@app.command("token")
def token(
    ctx: typer.Context,
    role: Annotated[list[ApiRoleChoice], typer.Option("--role", help="An API role; repeatable.")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="The one tenant the token sees.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="A platform admin's token: every tenant (instead of --tenant).")
    ] = False,
    ttl: Annotated[str, typer.Option("--ttl", metavar="TIME", help="Lifetime: 90s, 15m, 2h, 1d.")] = "1h",
    subject: Annotated[str, typer.Option("--subject", help="Who the token is for (an approval names them).")] = "",
) -> None:
    """Print a token for the HTTP API, signed with the home's key: one tenant's (or every tenant's), with roles."""
    from coordinator._tokens import DevKeys, TokenIssuer, parse_ttl, signing_key_variable

    options = globals_of(ctx)
    home = options.home()
    if all_tenants == (tenant is not None):
        raise ConfigError("give --tenant T or --all-tenants (one of them)", field="tenant")
    if tenant is not None and tenant not in home.tenants:
        raise NotFound(f"--tenant {tenant!r}: not a tenant of {home.path}; known: {list(home.tenants)}", field="tenant")
    roles = sorted({r.value for r in role})
    minted = TokenIssuer(DevKeys.load(home.keys_dir, variable=signing_key_variable()), issuer=home.issuer).mint(
        tenant=tenant,
        scopes=[],
        audience=home.api_audience,
        ttl_seconds=parse_ttl(ttl),
        subject=subject or f"api:{'+'.join(roles)}@{tenant or 'all'}",
        roles=roles,
    )
    if options.json:
        print_json({"token": minted, "tenant": tenant, "roles": roles, "audience": home.api_audience})
    else:
        print(minted)
