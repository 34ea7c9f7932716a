"""A server process for the boundary benchmark: the guarded CRM, or a bare MCP SDK tool doing the same SQL.

python -m bench._serve guarded|bare PORT DB_URL JWKS_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from sqlmodel import Session, select

from mcp_servers import crm
from mcp_servers.crm import CustomerRow
from mcp_servers.kit import BoundarySettings, Database, JwtVerifier, KeySet

ISSUER = "http://127.0.0.1:8700"


def bare_server(db: Database) -> MCPServer[Any]:
    """The baseline: an MCP SDK tool running the same query, with no token, scope, tenant binding or audit."""
    server: MCPServer[Any] = MCPServer("bare", log_level="WARNING")

    @server.tool()
    def find_customer(email: str) -> dict[str, Any]:
        with Session(db.engine) as session:
            row = session.exec(
                select(CustomerRow).where(CustomerRow.tenant_id == "acme", CustomerRow.email == email)
            ).first()
            return {"customer": row.model_dump() if row else None}

    return server


def bare_app(db: Database) -> Any:
    security = TransportSecuritySettings(allowed_hosts=["127.0.0.1:*"], allowed_origins=["http://127.0.0.1:*"])
    return bare_server(db).streamable_http_app(json_response=True, transport_security=security)


def main() -> None:
    kind, port, db_url, jwks = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    db = Database(db_url)
    url = f"http://127.0.0.1:{port}/mcp"
    if kind == "bare":
        app = bare_app(db)
    else:
        server = crm.build_server(db, BoundarySettings(rate_per_second=1e9, burst=10**9))
        verifier = JwtVerifier(KeySet.from_file(jwks), issuer=ISSUER, audience=url)
        app = server.http_app(verifier, resource_url=url)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve)


if __name__ == "__main__":
    main()
