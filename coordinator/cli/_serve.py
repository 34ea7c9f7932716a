"""The composition root: the one module of the coordinator that may import the MCP servers.

`deskhand serve` runs a server here, and `deskhand init` creates and seeds the servers'
databases here. Everything else reaches a server over MCP only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import anyio
import uvicorn

from coordinator._home import Home, ServerConfig
from mcp_servers import crm, helpdesk, knowledge, mailbox
from mcp_servers.kit import BoundarySettings, Database, GuardedServer, JwksUrl, JwtVerifier, KeySet
from schemas import ConfigError, DeskhandError, ServerName, TenantFile

SERVERS: dict[ServerName, ModuleType] = {"crm": crm, "helpdesk": helpdesk, "knowledge": knowledge, "mailbox": mailbox}
TOKEN_ENV = "DESKHAND_TOKEN"


def build(name: ServerName, db_url: str, settings: BoundarySettings | None = None) -> GuardedServer:
    build_server: Callable[[Database, BoundarySettings | None], GuardedServer] = SERVERS[name].build_server
    return build_server(Database(db_url), settings)


def prepare(home: Home, tenants: list[TenantFile], progress: Callable[[str], None] = lambda _: None) -> None:
    """Create every server's tables and load the tenants' data into each (idempotent)."""
    for name, config in home.servers.items():
        if config.db.startswith("sqlite:///"):
            Path(config.db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        server = build(name, config.db)
        server.create_tables()
        for tenant in tenants:
            SERVERS[name].seed(server.db, tenant)
            progress(f"{name}: loaded {tenant.tenant}")
        server.db.dispose()


def verifier_for(home: Home, config: ServerConfig, jwks: str | None, issuer: str | None) -> JwtVerifier:
    source = jwks or str(home.jwks_path)
    keys: KeySet | JwksUrl
    if source.startswith(("http://", "https://")):
        keys = JwksUrl(source)
    else:
        try:
            keys = KeySet.from_file(Path(source))
        except ValueError as exc:
            raise ConfigError(f"{exc}; run `deskhand init` or pass --jwks") from exc
    return JwtVerifier(keys, issuer=issuer or home.issuer, audience=config.url)


def serve_stdio(server: GuardedServer, verifier: JwtVerifier) -> None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_ENV} is not set: the stdio server takes its credential from the environment "
            "(mint one with `deskhand token mint`)"
        )
    try:
        server.run_stdio(verifier, token)
    except DeskhandError as exc:
        print(f"deskhand serve: {exc.code}: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from exc


def serve_http(server: GuardedServer, verifier: JwtVerifier, host: str, port: int, url: str) -> None:
    app = server.http_app(verifier, resource_url=url)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)
