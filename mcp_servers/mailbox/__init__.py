"""The mailbox reference server: the support inbox, draft replies, and replies sent (to the sender only).

`build_server(db, settings, backends)` returns the guarded server with every tool of `schemas.tools.mailbox`; each
tenant's calls go to its backend (`MailboxBackend`): `TableBackend`, the default, keeps the mail in the server's
tables (`seed(db, tenant_file)` loads a tenant's inbox, idempotent; a reply is recorded in the outbox table,
`SentReplyRow`, and nothing is sent); `ImapBackend` reads and drafts in a real account over IMAP and sends over
SMTP. `open_backends(config)` makes the backends `deskhand.toml` configures, their secrets read and their servers
checked.
"""

from collections.abc import Mapping

from mcp_servers.kit import BoundarySettings, Database, GuardedServer, ServerPackage, read_secret
from mcp_servers.mailbox._backend import MailboxBackend
from mcp_servers.mailbox._imap import ImapBackend, message_id_of
from mcp_servers.mailbox._models import DraftRow, MessageRow, SentReplyRow
from mcp_servers.mailbox._seed import seed
from mcp_servers.mailbox._table import TableBackend
from mcp_servers.mailbox._tools import register
from schemas import ImapMailbox, MailboxConfig
from schemas.tools import mailbox as tools

INSTRUCTIONS = "The support inbox of the caller's tenant: read, save drafts, reply. Sending needs approval."


def build_server(
    db: Database, settings: BoundarySettings | None = None, backends: Mapping[str, MailboxBackend] | None = None
) -> GuardedServer:
    server = GuardedServer(
        "mailbox",
        db=db,
        settings=settings,
        instructions=INSTRUCTIONS,
        tables=[MessageRow, DraftRow, SentReplyRow],
    )
    register(server, backends or {})
    return server


def open_backends(config: Mapping[str, MailboxConfig], *, check: bool = True) -> dict[str, MailboxBackend]:
    """The backend of each tenant `config` names (`deskhand.toml`'s `[mailbox.TENANT]`): its password read from
    the environment or its 0600 file, and (`check`) its IMAP and SMTP servers reached and logged in to. A
    `ConfigError` names the field to fix (`mailbox.TENANT.password_file`, `mailbox.TENANT.imap_host`)."""
    backends: dict[str, MailboxBackend] = {}
    for tenant, entry in config.items():
        if isinstance(entry, ImapMailbox):
            password = read_secret(env=entry.password_env, file=entry.password_file, field=f"mailbox.{tenant}")
            backend = ImapBackend(tenant, entry, password)
            if check:
                backend.check()
            backends[tenant] = backend
        else:
            backends[tenant] = TableBackend()
    return backends


package = ServerPackage("mailbox", build_server, tools.TOOLS, seed, INSTRUCTIONS)
"""What the entry point `deskhand.servers` names (the table backend for every tenant; `deskhand server serve` builds
it with the tenants' mailboxes `deskhand.toml` configures)."""

__all__ = [
    "DraftRow",
    "ImapBackend",
    "MailboxBackend",
    "MessageRow",
    "SentReplyRow",
    "TableBackend",
    "build_server",
    "message_id_of",
    "open_backends",
    "package",
    "seed",
]
