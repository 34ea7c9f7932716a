"""A server process for the boundary benchmark, one of four kinds serving `find_customer` over streamable HTTP:

- `guarded`: the deskhand CRM server (bearer JWT, scope gate and guard, tenant-bound session, audit);
- `bare`: an MCP SDK `MCPServer` tool running the same SQL with none of that (the baseline): a sync
  function, which the SDK runs in anyio's worker thread, as it does for any sync tool;
- `bare_async`: the same, as an `async def` tool that runs the SQL on the event loop, as the guarded
  server does on SQLite (the stricter baseline: no thread hop to pay for);
- `fastmcp`: a FastMCP server (PyPI `fastmcp`, a peer framework) serving the same unguarded sync tool.

python -m bench._serve guarded|bare|bare_async|fastmcp PORT DB_URL JWKS_FILE [AUDIT_INTERVAL_S (guarded only)]

They are served alike, so that what differs is the boundary (or the framework):
- stateful streamable HTTP (a session id per client) with plain JSON responses, no SSE;
- the MCP endpoint at `/mcp` on 127.0.0.1, under one uvicorn worker, log level WARNING;
- Host/Origin checked against 127.0.0.1 (the SDK's transport security; FastMCP's own guard);
- the same SQLAlchemy query on the same SQLite file;
- the same output contract (`FindCustomerOut`), so each publishes the same output schema and the
  client validates the same shape: a typed result is not part of the boundary's price (an untyped
  `dict` result saves the client ~75 µs of jsonschema work per call, for any of them).
The client side is the same MCP SDK client for all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from fastmcp import FastMCP
from fastmcp.utilities.logging import configure_logging
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from sqlmodel import Session, select
from starlette.types import ASGIApp

from mcp_servers import crm
from mcp_servers.crm import CustomerRow
from mcp_servers.kit import BoundarySettings, Database, JwtVerifier, KeySet, setup_tracing
from schemas.tools.crm import Customer, FindCustomerOut

ISSUER = "http://127.0.0.1:8700"
KINDS = ("bare", "bare_async", "guarded", "fastmcp")


def find_customer_sql(db: Database, email: str) -> FindCustomerOut:
    """The unguarded query: the tenant is a constant here, not taken from a verified token."""
    with Session(db.engine) as session:
        row = session.exec(
            select(CustomerRow).where(CustomerRow.tenant_id == "acme", CustomerRow.email == email)
        ).first()
        return FindCustomerOut(customer=Customer.model_validate(row, from_attributes=True) if row else None)


def bare_server(db: Database) -> MCPServer[Any]:
    """The baseline: an MCP SDK tool running the same query, with no token, scope, tenant binding or audit."""
    server: MCPServer[Any] = MCPServer("bare", log_level="WARNING")

    @server.tool()
    def find_customer(email: str) -> FindCustomerOut:
        return find_customer_sql(db, email)

    return server


def bare_async_server(db: Database) -> MCPServer[Any]:
    """The stricter baseline: the same query in an `async def` tool, on the event loop (no worker thread)."""
    server: MCPServer[Any] = MCPServer("bare-async", log_level="WARNING")

    @server.tool()
    async def find_customer(email: str) -> FindCustomerOut:
        return find_customer_sql(db, email)

    return server


def bare_app(server: MCPServer[Any]) -> ASGIApp:
    security = TransportSecuritySettings(allowed_hosts=["127.0.0.1:*"], allowed_origins=["http://127.0.0.1:*"])
    return server.streamable_http_app(json_response=True, transport_security=security)


def fastmcp_server(db: Database) -> FastMCP[Any]:
    """The peer: FastMCP serving the same unguarded tool."""
    configure_logging(level="WARNING")  # as quiet as the SDK servers (FastMCP logs at INFO by default)
    server: FastMCP[Any] = FastMCP("fastmcp-bare")

    @server.tool()
    def find_customer(email: str) -> FindCustomerOut:
        return find_customer_sql(db, email)

    return server


def fastmcp_app(db: Database) -> ASGIApp:
    return fastmcp_server(db).http_app(
        path="/mcp", json_response=True, stateless_http=False, host_origin_protection=True
    )


def guarded_app(db: Database, jwks: Path, url: str, audit_interval: float | None = None) -> ASGIApp:
    server = crm.build_server(db, BoundarySettings(rate_per_second=1e9, burst=10**9))
    if audit_interval is not None:  # under callgrind, so that a batch holds as many calls as at full speed
        server.audit.interval = audit_interval
    verifier = JwtVerifier(KeySet.from_file(jwks), issuer=ISSUER, audience=url)
    return server.http_app(verifier, resource_url=url)


def main() -> None:
    kind, port, db_url, jwks = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    audit_interval = float(sys.argv[5]) if len(sys.argv) > 5 else None
    if kind not in KINDS:
        raise SystemExit(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    db = Database(db_url)
    url = f"http://127.0.0.1:{port}/mcp"
    if kind == "guarded":
        setup_tracing("deskhand-crm")  # the price of traces, measured with OTEL_* set (off otherwise)
        app = guarded_app(db, jwks, url, audit_interval)
    elif kind == "fastmcp":
        app = fastmcp_app(db)
    elif kind == "bare_async":
        app = bare_app(bare_async_server(db))
    else:
        app = bare_app(bare_server(db))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)


if __name__ == "__main__":
    main()
