"""The mailbox reference server: the support inbox, draft replies, and replies sent (to the sender only).

`build_server(db)` returns the guarded server with every tool of `schemas.tools.mailbox`;
`seed(db, tenant_file)` loads a tenant's inbox (idempotent). Nothing is sent over the network:
a reply is recorded in the outbox table, `SentReplyRow`.
"""

from mcp_servers.kit import BoundarySettings, Database, GuardedServer, ServerPackage
from mcp_servers.mailbox._models import DraftRow, MessageRow, SentReplyRow
from mcp_servers.mailbox._seed import seed
from mcp_servers.mailbox._tools import register
from schemas.tools import mailbox as tools

INSTRUCTIONS = "The support inbox of the caller's tenant: read, save drafts, reply. Sending needs approval."


def build_server(db: Database, settings: BoundarySettings | None = None) -> GuardedServer:
    server = GuardedServer(
        "mailbox",
        db=db,
        settings=settings,
        instructions=INSTRUCTIONS,
        tables=[MessageRow, DraftRow, SentReplyRow],
    )
    register(server)
    return server


package = ServerPackage("mailbox", build_server, tools.TOOLS, seed, INSTRUCTIONS)
"""What the entry point `deskhand.servers` names."""

__all__ = ["DraftRow", "MessageRow", "SentReplyRow", "build_server", "package", "seed"]
