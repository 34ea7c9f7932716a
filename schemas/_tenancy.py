"""Who is calling: tenants, principals, scopes, and the JWT claim names issuer and verifier share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints

TENANT_ID_PATTERN = r"^[a-z][a-z0-9-]{1,62}$"
TenantId = Annotated[str, StringConstraints(min_length=2, max_length=63, pattern=TENANT_ID_PATTERN)]
"""A tenant's id: lower-case letters, digits and dashes, starting with a letter (`my-shop`, `clinic-2`)."""

BuiltinScope = Literal[
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
BUILTIN_SCOPES: Final[tuple[BuiltinScope, ...]] = get_args(BuiltinScope)
"""The scopes of the four built-in servers."""

SCOPE_PATTERN = r"^[a-z][a-z0-9_]{0,31}:[a-z][a-z0-9_-]{0,31}$"
Scope = Annotated[str, StringConstraints(pattern=SCOPE_PATTERN)]
"""`server:action`: the prefix names the server the scope belongs to (`orders:read` is the orders server's), but
for the built-in prefixes `kb` (knowledge) and `mail` (mailbox)."""

SERVER_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
ServerName = Annotated[str, StringConstraints(pattern=SERVER_NAME_PATTERN)]
"""A server's name: lower-case letters, digits and underscores (`crm`, `orders`). Any installed server package
(the entry-point group `deskhand.servers`) or any server `deskhand.toml` gives a URL for."""

BuiltinServer = Literal["crm", "helpdesk", "knowledge", "mailbox"]
BUILTIN_SERVERS: Final[tuple[BuiltinServer, ...]] = get_args(BuiltinServer)

SCOPE_PREFIX_SERVER: Final[dict[str, str]] = {"kb": "knowledge", "mail": "mailbox"}
"""The built-in scope prefixes that are not their server's name: `kb:read` is the knowledge server's."""

_SCOPE = re.compile(SCOPE_PATTERN)


def server_of_scope(scope: str) -> str:
    """The server a scope belongs to (its prefix, or the built-in alias); `ValueError` for a malformed scope."""
    if not _SCOPE.match(scope):
        raise ValueError(f"scope {scope!r} is not of the form server:action (e.g. orders:read)")
    prefix = scope.partition(":")[0]
    return SCOPE_PREFIX_SERVER.get(prefix, prefix)


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes no server could own: malformed ones, and those a built-in server does not define (`crm:raed`).
    A well-formed scope of another server is its server's to define: the server refuses what it does not grant."""
    unknown = []
    for scope in scopes:
        try:
            server = server_of_scope(scope)
        except ValueError:
            unknown.append(scope)
            continue
        if server in BUILTIN_SERVERS and scope not in BUILTIN_SCOPES:
            unknown.append(scope)
    return sorted(set(unknown))


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
