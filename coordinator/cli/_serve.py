"""The composition root: the one module of the coordinator that may import the MCP servers.

`deskhand server serve` runs a server here, and `deskhand init` creates and seeds the servers'
databases here. Everything else reaches a server over MCP only.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

from coordinator._home import DEFAULT_ISSUER, Home, ServerConfig
from coordinator._tokens import Attribution, DevKeys, TokenIssuer
from mcp_servers import mailbox
from mcp_servers.kit import (
    BoundarySettings,
    Database,
    GuardedServer,
    JwksUrl,
    JwtVerifier,
    KeySet,
    PinnedVerifier,
    ServerPackage,
    load_servers,
)
from schemas import ConfigError, ServerName, TenantFile

if TYPE_CHECKING:  # `deskhand server serve` imports this module: it needs no MCP client and no coordinator runtime
    from mcp import Client

    from coordinator._sessions import Connect

TOKEN_ENV = "DESKHAND_TOKEN"


def package_of(name: ServerName) -> ServerPackage:
    """The installed package that serves `name`; a `ConfigError` naming the installed ones otherwise."""
    packages = load_servers()
    if name not in packages:
        raise ConfigError(
            f"no installed package serves {name!r} (entry-point group 'deskhand.servers'); installed: {list(packages)}",
            field="name",
        )
    return packages[name]


def build(
    name: ServerName, db_url: str, settings: BoundarySettings | None = None, home: Home | None = None
) -> GuardedServer:
    """The server `name` on `db_url`; the mailbox with the tenants' mailboxes `home` configures (read, checked)."""
    if name == "mailbox" and home is not None and home.mailboxes:
        return mailbox.build_server(Database(db_url), settings, mailbox.open_backends(home.mailboxes))
    return package_of(name).build(Database(db_url), settings)


def boundary_settings(rate: float | None, burst: int | None) -> BoundarySettings:
    """`deskhand server serve --rate/--burst`, over the defaults."""
    defaults = BoundarySettings()
    settings = BoundarySettings(
        rate_per_second=defaults.rate_per_second if rate is None else rate,
        burst=defaults.burst if burst is None else burst,
    )
    if not settings.rate_per_second > 0 or settings.burst < 1:
        raise ConfigError(
            f"--rate must be above 0 and --burst at least 1 (got {settings.rate_per_second} and {settings.burst})",
            field="rate",
        )
    return settings


def prepare(home: Home, tenants: list[TenantFile], progress: Callable[[str], None] = lambda _: None) -> None:
    """Create the tables of every server of the home installed here and load the tenants' data into each
    (idempotent); a server the home only reaches (another host's) is left to its own host. A pinned tenant's data
    goes into its pinned servers only, never into the shared server of the same name."""
    packages = load_servers()
    tiers: list[tuple[str, ServerConfig, list[TenantFile]]] = [
        (name, config, [t for t in tenants if name not in home.pinned.get(t.tenant, {})])
        for name, config in home.servers.items()
    ]
    tiers += [
        (f"{name} (pinned to {pinned})", config, [t for t in tenants if t.tenant == pinned])
        for pinned, tier in home.pinned.items()
        for name, config in tier.items()
    ]
    for label, config, loading in tiers:
        package = packages.get(config.name)
        if package is None:
            progress(f"{label}: not installed here, skipped")
            continue
        if config.db.startswith("sqlite:///"):
            Path(config.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        server = package.build(Database(config.db), None)
        server.create_tables()
        for tenant in loading:
            if package.seed is not None:
                package.seed(server.db, tenant)
            progress(f"{label}: loaded {tenant.tenant}")
        server.db.dispose()


def verifier_for(
    home: Home, config: ServerConfig, jwks: str | None, issuer: str | None, *, tenant: str | None = None
) -> JwtVerifier:
    """What the server trusts: the home's JWKS (or `jwks`); for a server pinned to `tenant`, that tenant's JWKS
    and its tokens only."""
    keys_dir = home.keys_dir if tenant is None else home.tenant_keys_dir(tenant)
    source = jwks or str(keys_dir / "jwks.json")
    keys: KeySet | JwksUrl
    if source.startswith(("http://", "https://")):
        keys = JwksUrl(source)
    else:
        try:
            keys = KeySet.from_file(Path(source))
        except ValueError as exc:
            raise ConfigError(f"{exc}; run `deskhand init` or pass --jwks") from exc
    if tenant is not None:
        return PinnedVerifier(keys, tenant=tenant, issuer=issuer or home.issuer, audience=config.url)
    return JwtVerifier(keys, issuer=issuer or home.issuer, audience=config.url)


def serve_stdio(server: GuardedServer, verifier: JwtVerifier) -> None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: the stdio server takes its credential from the environment "
            "(mint one with `deskhand token mint`)"
        )
    server.run_stdio(verifier, token)  # a refused credential is a DeskhandError: one line, exit 1


def serve_http(server: GuardedServer, verifier: JwtVerifier, host: str, port: int, url: str) -> None:
    app = server.http_app(verifier, resource_url=url)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)


@asynccontextmanager
async def in_memory_world(
    directory: Path, tenants: list[TenantFile], middleware: Callable[[ServerName], list[Any]]
) -> AsyncIterator[Connect]:
    """The installed servers in this process (own SQLite files in `directory`, tenants loaded), and a
    `Connect` that opens in-memory MCP clients to them with tokens from a throwaway key; each
    server gets `middleware(name)` inside its guard (evaluation: fault injection)."""
    from mcp import Client

    keys = DevKeys.create(directory / "keys")
    issuer = TokenIssuer(keys, issuer=DEFAULT_ISSUER)
    verifier = JwtVerifier(KeySet(keys.jwks(), source="eval"), issuer=DEFAULT_ISSUER, audience="urn:deskhand:eval")
    servers = {}
    for name, package in load_servers().items():
        server = package.build(Database(f"sqlite:///{directory / name}.db"), None)
        server.create_tables()
        for tenant in tenants:
            if package.seed is not None:
                package.seed(server.db, tenant)
        servers[name] = server

    @asynccontextmanager
    async def connect(tenant: str, server: ServerName, scopes: list[str], caller: Attribution) -> AsyncIterator[Client]:
        token = issuer.mint(
            tenant=tenant,
            scopes=scopes,
            audience="urn:deskhand:eval",
            subject=caller.subject,
            run=caller.run,
            actor=caller.actor,
        )
        mcp = await servers[server].in_memory(verifier, token, middleware=middleware(server))
        async with Client(mcp) as client:
            yield client

    try:
        yield connect
    finally:
        for server in servers.values():
            server.db.dispose()
