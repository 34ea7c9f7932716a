"""`deskhand api serve|token`: the HTTP API over the home's store, and tokens for it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coordinator.cli._context import DbOption, globals_of, noun, print_json
from schemas import ConfigError, NotFound

app = noun("The HTTP API: runs, approvals and usage over the workers' store.")


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
    from mcp_servers.kit import JwksUrl, JwtVerifier, KeySet

    home = globals_of(ctx).home()
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
        app_ = create_app(home, store, verifier=verifier)
        config = uvicorn.Config(app_, host=host, port=int(port_text), log_level="warning", lifespan="off")
        anyio.run(uvicorn.Server(config).serve)
    finally:
        store.dispose()


@app.command("token")
def token(
    ctx: typer.Context,
    role: Annotated[list[str], typer.Option("--role", metavar="viewer|operator|approver", help="Repeatable.")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="The one tenant the token sees.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="A platform admin's token: every tenant (instead of --tenant).")
    ] = False,
    ttl: Annotated[str, typer.Option("--ttl", metavar="TIME", help="Lifetime: 90s, 15m, 2h, 1d.")] = "1h",
    subject: Annotated[str, typer.Option("--subject", help="Who the token is for (an approval names them).")] = "",
) -> None:
    """Print a token for the HTTP API, signed with the home's key: one tenant's (or every tenant's), with roles."""
    from coordinator._tokens import DevKeys, TokenIssuer, parse_ttl
    from coordinator.api import API_ROLES

    options = globals_of(ctx)
    home = options.home()
    if all_tenants == (tenant is not None):
        raise ConfigError("give --tenant T or --all-tenants (one of them)", field="tenant")
    if tenant is not None and tenant not in home.tenants:
        raise NotFound(f"--tenant {tenant!r}: not a tenant of {home.path}; known: {list(home.tenants)}", field="tenant")
    unknown = [r for r in role if r not in API_ROLES]
    if unknown:
        raise ConfigError(f"--role {unknown[0]!r}: expected one of {', '.join(API_ROLES)}", field="role")
    minted = TokenIssuer(DevKeys.load(home.keys_dir), issuer=home.issuer).mint(
        tenant=tenant,
        scopes=[],
        audience=home.api_audience,
        ttl_seconds=parse_ttl(ttl),
        subject=subject or f"api:{'+'.join(sorted(set(role)))}@{tenant or 'all'}",
        roles=sorted(set(role)),
    )
    if options.json:
        print_json({"token": minted, "tenant": tenant, "roles": sorted(set(role)), "audience": home.api_audience})
    else:
        print(minted)
