"""The helpdesk reference server: tickets, routing, internal notes and draft replies.

`build_server(db)` returns the guarded server with every tool of `schemas.tools.helpdesk`;
`seed(db, tenant_file)` loads a tenant's tickets (idempotent).
"""

from mcp_servers.helpdesk._models import DraftRow, NoteRow, TicketRow
from mcp_servers.helpdesk._seed import seed
from mcp_servers.helpdesk._tools import register
from mcp_servers.kit import BoundarySettings, Database, GuardedServer, ServerPackage
from schemas.tools import helpdesk as tools

INSTRUCTIONS = "The caller's tenant's support tickets: find, open, classify and route them; notes and drafts."


def build_server(db: Database, settings: BoundarySettings | None = None) -> GuardedServer:
    server = GuardedServer(
        "helpdesk",
        db=db,
        settings=settings,
        instructions=INSTRUCTIONS,
        tables=[TicketRow, NoteRow, DraftRow],
    )
    register(server)
    return server


package = ServerPackage("helpdesk", build_server, tools.TOOLS, seed, INSTRUCTIONS)
"""What the entry point `deskhand.servers` names."""

__all__ = ["DraftRow", "NoteRow", "TicketRow", "build_server", "package", "seed"]
