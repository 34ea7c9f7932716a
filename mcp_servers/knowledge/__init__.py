"""The knowledge reference server: help articles (BM25 search), the tenant's policy and templates.

`build_server(db)` returns the guarded server with every tool of `schemas.tools.knowledge`;
`seed(db, tenant_file)` loads a tenant's articles, name and policy (idempotent).
"""

from mcp_servers.kit import BoundarySettings, Database, GuardedServer, ServerPackage
from mcp_servers.knowledge._models import ArticleRow, TenantPolicyRow
from mcp_servers.knowledge._seed import seed
from mcp_servers.knowledge._tools import register
from schemas.tools import knowledge as tools

INSTRUCTIONS = "Help articles, the support policy and reply templates of the caller's tenant. Read-only."


def build_server(db: Database, settings: BoundarySettings | None = None) -> GuardedServer:
    server = GuardedServer(
        "knowledge",
        db=db,
        settings=settings,
        instructions=INSTRUCTIONS,
        tables=[ArticleRow, TenantPolicyRow],
    )
    register(server)
    return server


package = ServerPackage("knowledge", build_server, tools.TOOLS, seed, INSTRUCTIONS)
"""What the entry point `deskhand.servers` names."""

__all__ = ["ArticleRow", "TenantPolicyRow", "build_server", "package", "seed"]
