"""Who is calling: tenants, principals, scopes, and the JWT claim names issuer and verifier share."""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints

TENANT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
TenantId = Annotated[str, StringConstraints(min_length=2, max_length=63, pattern=TENANT_ID_PATTERN)]
"""A tenant's id: lower-case letters, digits and dashes, starting with a letter (`acme`, `north-wind`)."""

Scope = Literal[
    "crm:read",
    "crm:write",
    "crm:credit",
    "helpdesk:read",
    "helpdesk:write",
    "kb:read",
    "mail:read",
    "mail:draft",
    "mail:send",
]
SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)

ServerName = Literal["crm", "helpdesk", "knowledge", "mailbox"]
SERVER_NAMES: Final[tuple[ServerName, ...]] = get_args(ServerName)

SCOPE_PREFIX_SERVER: Final[dict[str, ServerName]] = {
    "crm": "crm",
    "helpdesk": "helpdesk",
    "kb": "knowledge",
    "mail": "mailbox",
}
"""The server each scope prefix belongs to: `kb:read` is the knowledge server's."""


def server_of_scope(scope: str) -> ServerName:
    """The server a scope belongs to; `ValueError` for a scope of no known server."""
    prefix = scope.partition(":")[0]
    try:
        return SCOPE_PREFIX_SERVER[prefix]
    except KeyError:
        raise ValueError(f"scope {scope!r} belongs to no deskhand server") from None


class Claims:
    """JWT claim names. The issuer (coordinator) and the verifier (mcp_servers) agree on these."""

    TENANT: Final = "tenant"
    ROLES: Final = "roles"
    SCOPE: Final = "scope"  # space-separated, as in RFC 8693 / RFC 9068
    CLIENT_ID: Final = "client_id"
    RUN: Final = "deskhand/run"
    """The run a token was minted for (tokens minted for one run only, e.g. an approved call's)."""
    ACTOR: Final = "act"
    """RFC 8693 actor claim, `{"sub": ...}`: the person on whose decision the call is made (an approver)."""
    ALL_TENANTS: Final = "deskhand/all_tenants"
    """`true` in an HTTP API token bound to every tenant (a platform admin's), which then has no `tenant` claim:
    no MCP server accepts it, since a server's principal needs a tenant."""


SPECIALIST_SUBJECT_PREFIX: Final = "specialist:"
"""A token the coordinator mints for a specialist has the subject `specialist:<name>`."""


class Principal(BaseModel):
    """A verified caller. Built only from a verified bearer token, never from tool arguments."""

    model_config = ConfigDict(frozen=True)

    tenant: TenantId
    subject: str
    client_id: str
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    run: str | None = None
    """The run the token was minted for, when it was minted for one (`Claims.RUN`)."""
    actor: str | None = None
    """Who the call is made on behalf of, when the token names one (`Claims.ACTOR`'s `sub`)."""

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
