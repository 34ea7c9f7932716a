"""The CRM reference server: customers, accounts, interactions and credits.

`build_server(db)` returns the guarded server with every tool of `schemas.tools.crm`;
`seed(db, tenant_file)` loads a tenant's customers and accounts (idempotent).
"""

from mcp_servers.crm._models import AccountRow, CreditRow, CustomerRow, InteractionRow
from mcp_servers.crm._seed import seed
from mcp_servers.crm._tools import register
from mcp_servers.kit import BoundarySettings, Database, GuardedServer, ServerPackage
from schemas.tools import crm as tools

INSTRUCTIONS = "Customers, accounts and their history for the caller's tenant. Credits need approval."


def build_server(db: Database, settings: BoundarySettings | None = None) -> GuardedServer:
    server = GuardedServer(
        "crm",
        db=db,
        settings=settings,
        instructions=INSTRUCTIONS,
        tables=[CustomerRow, AccountRow, InteractionRow, CreditRow],
    )
    register(server)
    return server


package = ServerPackage("crm", build_server, tools.TOOLS, seed, INSTRUCTIONS)
"""What the entry point `deskhand.servers` names."""

__all__ = ["AccountRow", "CreditRow", "CustomerRow", "InteractionRow", "build_server", "package", "seed"]
