"""`deskhand token mint`: development tokens for a tenant the home knows."""

from __future__ import annotations

from typing import Annotated

import typer

from coordinator._home import Home, ServerConfig
from coordinator._tokens import DevKeys, TokenIssuer, parse_ttl, signing_key_variable
from coordinator.cli._context import Role, globals_of, noun, print_json
from schemas import BUILTIN_ROLES, ConfigError, NotFound, server_of_scope

app = noun("Development tokens.")


@app.command("mint")
def mint(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the token acts for (one `init` loaded).")],
    scopes: Annotated[
        str, typer.Option("--scopes", metavar="LIST", help="Comma-separated scopes, e.g. crm:read,kb:read.")
    ] = "",
    role: Annotated[list[Role] | None, typer.Option("--role", help="Add a role's scopes; repeatable.")] = None,
    audience: Annotated[
        list[str] | None,
        typer.Option("--audience", metavar="URL", help="Server URL(s); default: the servers of the scopes."),
    ] = None,
    ttl: Annotated[str, typer.Option("--ttl", metavar="TIME", help="Lifetime: 90s, 15m, 2h, 1d.")] = "15m",
    subject: Annotated[str, typer.Option("--subject", help="Who the token is for.")] = "deskhand-cli",
) -> None:
    """Print a signed development token for one tenant, with only the scopes asked for; for a pinned tenant's
    servers, signed with its own key and for their URLs."""
    options = globals_of(ctx)
    home = options.home()
    tenant_id = _tenant_id(tenant)
    if tenant_id not in home.tenants:
        raise NotFound(
            f"--tenant {tenant!r}: not a tenant of {home.path}; known: {list(home.tenants)} "
            "(load one with `deskhand init --tenants FILE`)",
            field="tenant",
        )
    scope_set = {s.strip() for s in scopes.split(",") if s.strip()}
    for r in role or []:
        scope_set |= set(BUILTIN_ROLES[r.value])
    if not scope_set:
        raise ConfigError("give --scopes or --role", field="scopes")
    try:
        servers = sorted({server_of_scope(s) for s in scope_set})
    except ValueError as exc:
        raise ConfigError(str(exc), field="scopes") from exc
    pins = home.pinned.get(tenant_id, {})
    pinned = {s in pins for s in servers}
    if len(pinned) > 1:
        raise ConfigError(
            f"--tenant {tenant_id}: {sorted(s for s in servers if s in pins)} are pinned to it and "
            f"{sorted(s for s in servers if s not in pins)} are shared, and each tier has its own key: mint one "
            "token per tier",
            field="scopes",
        )
    keys_dir, variable = (
        (home.tenant_keys_dir(tenant_id), signing_key_variable(tenant_id))
        if True in pinned
        else (home.keys_dir, signing_key_variable())
    )
    audiences = audience or [home.route(tenant_id, s).url for s in servers]
    token = TokenIssuer(DevKeys.load(keys_dir, variable=variable), issuer=home.issuer).mint(
        tenant=tenant_id,
        scopes=scope_set,
        audience=audiences[0] if len(audiences) == 1 else audiences,
        ttl_seconds=parse_ttl(ttl),
        subject=subject,
        roles=[r.value for r in role or []],
    )
    if options.json:
        print_json({"token": token, "tenant": tenant_id, "scopes": sorted(scope_set), "audience": audiences})
    else:
        print(token)


def _tenant_id(text: str) -> str:
    from pydantic import TypeAdapter, ValidationError

    from schemas import TenantId

    try:
        return TypeAdapter(TenantId).validate_python(text)
    except ValidationError:
        raise ConfigError(
            f"--tenant {text!r}: expected lower-case letters, digits and dashes (e.g. my-shop)", field="tenant"
        ) from None


@app.command("metrics")
def metrics(
    ctx: typer.Context,
    ttl: Annotated[str, typer.Option("--ttl", metavar="TIME", help="Lifetime: 90s, 15m, 2h, 1d.")] = "30d",
    subject: Annotated[str, typer.Option("--subject", help="Who scrapes with it.")] = "prometheus",
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant", metavar="TENANT", help="For the servers pinned to this tenant instead, signed with its key."
        ),
    ] = None,
) -> None:
    """Print a scrape token for Prometheus: every server's /metrics and the coordinator's (workers', API's).

    Bound to every tenant (the figures span tenants) with the role `metrics`; its audiences are the home's shared
    servers and its HTTP API, and it carries no scope: no server lets it call a tool. With --tenant, the servers
    pinned to that tenant instead, signed with its key (they trust no other)."""
    from mcp_servers.kit import METRICS_ROLE

    options = globals_of(ctx)
    home = options.home()
    if tenant is None:
        keys_dir, audiences = home.keys_dir, [server.url for server in home.servers.values()] + [home.api_audience]
    else:
        keys_dir, audiences = home.tenant_keys_dir(tenant), [s.url for s in _pinned(home, tenant).values()]
    keys = DevKeys.load(keys_dir, variable=signing_key_variable(tenant))
    token = TokenIssuer(keys, issuer=home.issuer).mint(
        tenant=None,
        scopes=[],
        audience=audiences,
        ttl_seconds=parse_ttl(ttl),
        subject=subject,
        roles=[METRICS_ROLE],
    )
    if options.json:
        print_json({"token": token, "roles": [METRICS_ROLE], "audience": audiences})
    else:
        print(token)


def _pinned(home: Home, tenant: str) -> dict[str, ServerConfig]:
    if tenant not in home.pinned:
        raise ConfigError(
            f"--tenant {tenant!r}: no server is pinned to it (pinned tenants: {list(home.pinned)})", field="tenant"
        )
    return home.pinned[tenant]
