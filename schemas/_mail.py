"""Where a tenant's mailbox lives: the mailbox server's table (the default), or a real account over IMAP and SMTP.

A `[mailbox.TENANT]` table of `deskhand.toml` is one of these models. It never holds a password: it names where
the mailbox server reads it, an environment variable (`password_env`) or a file only its owner may read
(`password_file`, mode 0600).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas._common import Email

MailTls = Literal["tls", "starttls", "none"]
"""`tls`: TLS from the first byte (IMAPS 993, SMTPS 465); `starttls`: upgraded after the greeting (143, 587);
`none`: plain text (a server on 127.0.0.1 only)."""

_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_Port = Annotated[int, Field(ge=1, le=65535)]


class TableMailbox(BaseModel):
    """The tenant's mail in the mailbox server's own tables, seeded from its tenant file (as without a table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["table"] = "table"


class ImapMailbox(BaseModel):
    """The tenant's mail in a real account: new mail read and drafts saved over IMAP, replies sent over SMTP."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["imap"]
    user: _Name
    """The login of both the IMAP and the SMTP server."""
    address: Email | None = None
    """The From of drafts and replies (default: `user`, when it is an address)."""
    password_env: _Name | None = None
    """The environment variable that holds the password (of the mailbox server's process)."""
    password_file: Path | None = None
    """A file that holds the password (its first line); mode 0600: readable by its owner only."""
    imap_host: _Name
    imap_port: _Port = 993
    imap_tls: MailTls = "tls"
    smtp_host: _Name
    smtp_port: _Port = 465
    smtp_tls: MailTls = "tls"
    inbox_folder: _Name = "INBOX"
    drafts_folder: _Name = "Drafts"
    processed_folder: _Name | None = None
    """Processed mail is moved here (the default, `Processed`, unless `processed_flag` is set)."""
    processed_flag: _Name | None = None
    """Processed mail keeps its folder and gets this flag instead (`\\Flagged`, or a keyword the server keeps)."""
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0

    @model_validator(mode="after")
    def _one_of_each(self) -> ImapMailbox:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("give exactly one of password_env (a variable's name) or password_file (a 0600 file)")
        if self.processed_folder is not None and self.processed_flag is not None:
            raise ValueError("give processed_folder or processed_flag, not both")
        if self.address is None and "@" not in self.user:
            raise ValueError("user is not an address: give the From of replies as address")
        return self

    @property
    def sender(self) -> str:
        """The From of drafts and replies."""
        return self.address or self.user.lower()

    @property
    def processed_in(self) -> str | None:
        """The folder processed mail is moved to; None when it is flagged in place."""
        return None if self.processed_flag is not None else self.processed_folder or "Processed"


MailboxConfig = Annotated[TableMailbox | ImapMailbox, Field(discriminator="backend")]
