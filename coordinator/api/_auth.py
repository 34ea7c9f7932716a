"""Who calls the API: a bearer JWT of the home's issuer (or an external IdP's, by its JWKS) for the API's own
audience, bound to one tenant (`tenant` claim) or to every tenant (`deskhand/all_tenants: true`, a platform
admin's, with no `tenant` claim), carrying API roles in `roles`:

- `viewer`: read runs, approvals and usage;
- `operator`: submit events, and read;
- `approver`: decide approvals, and read.

A token that is missing or fails verification is `Unauthenticated` (401); a role it lacks is
`InsufficientScope` (403). What a tenant-bound caller may not see is answered as missing (404) elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request

from mcp_servers.kit import JwtVerifier, TokenRefused
from schemas import Claims, InsufficientScope, TenantId

ApiRole = Literal["viewer", "operator", "approver"]
API_ROLES: Final[tuple[ApiRole, ...]] = get_args(ApiRole)

_TENANT_ID: TypeAdapter[str] = TypeAdapter(TenantId)


@dataclass(frozen=True)
class Caller:
    """A verified API caller: its subject, its tenant (None: every tenant) and its API roles."""

    subject: str
    tenant: str | None
    roles: frozenset[str]

    def sees(self, tenant: str) -> bool:
        """Whether this caller may see the tenant's runs, approvals and usage at all."""
        return self.tenant is None or self.tenant == tenant

    def require(self, role: ApiRole) -> None:
        """`InsufficientScope` unless the caller holds `role` (any API role reads: `viewer` is implied)."""
        held = role in self.roles if role != "viewer" else any(r in self.roles for r in API_ROLES)
        if not held:
            raise InsufficientScope(f"this needs the API role {role!r}", required=role)


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller verified claims stand for; `TokenRefused` (claims_malformed) for a token bound to no tenant,
    or to one tenant and all of them at once."""
    roles = claims.get(Claims.ROLES, [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenRefused("claims_malformed", f"token claim {Claims.ROLES!r} must be a list of strings")
    everyone = claims.get(Claims.ALL_TENANTS) is True
    tenant = claims.get(Claims.TENANT)
    if everyone == (tenant is not None):
        raise TokenRefused(
            "claims_malformed",
            f"an API token has either a {Claims.TENANT!r} claim or {Claims.ALL_TENANTS!r}: true, not both or neither",
        )
    if tenant is not None:
        try:
            tenant = _TENANT_ID.validate_python(tenant)
        except ValidationError:
            raise TokenRefused("claims_malformed", f"token claim {Claims.TENANT!r} is not a tenant id") from None
    return Caller(subject=str(claims["sub"]), tenant=tenant, roles=frozenset(roles))


class Authenticator:
    """Reads the bearer token of a request and verifies it (the verifier pins the API's audience)."""

    def __init__(self, verifier: JwtVerifier) -> None:
        self.verifier = verifier

    async def caller(self, request: Request) -> Caller:
        header = request.headers.get("authorization")
        if header is None:
            raise TokenRefused("missing", "no bearer token was sent")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRefused("malformed", "the Authorization header is not 'Bearer <token>'")
        return await self.caller_of(token.strip())

    async def caller_of(self, token: str) -> Caller:
        """The caller a token stands for (the console's sign-in cookie holds the same token)."""
        if not token:
            raise TokenRefused("missing", "no token was given")
        return caller_from_claims(await self.verifier.verified_claims(token))
