"""Bearer authentication over HTTP whose 401 says why, built from the SDK's own auth pieces.

The SDK's `BearerAuthBackend` sees only `verify_token() -> None` and its `RequireAuthMiddleware`
answers every refusal with "Authentication required". Here:
- `BearerBackend` (a Starlette `AuthenticationBackend`, like the SDK's) verifies with `JwtVerifier.verify`
  and, on refusal, leaves the `TokenRefused` in the request scope; an accepted token becomes the SDK's
  `AuthenticatedUser`, so `get_access_token()`, the session owner check and `ScopeGate` work unchanged.
- `RequireBearer` (in place of `RequireAuthMiddleware`) answers a refused request with
  `401 WWW-Authenticate: Bearer error="invalid_token", error_description="<reason>", resource_metadata=...`
  (no `error` when no token was sent, RFC 6750 §3.1) and a JSON-RPC error body whose `data` is the
  `ErrorPayload` (`unauthenticated`). The description is fixed text per reason: nothing from the token
  is echoed, and the refusal is counted by reason (`ServerMetrics`). Keys that cannot be fetched are 503 with
  `Retry-After`, not a refusal.
"""

from __future__ import annotations

import math
from typing import Final

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.types import INTERNAL_ERROR, INVALID_REQUEST
from pydantic import AnyHttpUrl, ValidationError
from starlette.authentication import AuthCredentials, AuthenticationBackend
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_servers.kit._http import _json_response, _jsonrpc_error
from mcp_servers.kit._jwt import JwtVerifier, TokenRefused
from mcp_servers.kit._metrics import ServerMetrics
from schemas import Unavailable

REFUSAL_SCOPE_KEY: Final = "deskhand.token_refusal"
"""Where `BearerBackend` leaves why a request is not authenticated, for `RequireBearer` to answer."""


class BearerBackend(AuthenticationBackend):
    """Authenticates `Authorization: Bearer` with a `JwtVerifier`; a token must be issued for `resource_url`."""

    def __init__(self, verifier: JwtVerifier, *, resource_url: str) -> None:
        self.verifier = verifier
        self.resource_url = str(AnyHttpUrl(resource_url)).removesuffix("/")

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, AuthenticatedUser] | None:
        header = conn.headers.get("authorization")
        scheme, _, token = (header or "").partition(" ")
        if header is None or scheme.lower() != "bearer":
            conn.scope[REFUSAL_SCOPE_KEY] = TokenRefused("missing", "no bearer token")
            return None
        token = token.strip()
        try:
            access, _ = await self.verifier.verify(token)
        except TokenRefused as exc:
            conn.scope[REFUSAL_SCOPE_KEY] = exc
            return None
        except Unavailable as exc:  # the issuer's JWKS could not be fetched (logged where it is fetched)
            conn.scope[REFUSAL_SCOPE_KEY] = exc
            return None
        if not self._issued_for_this_resource(access.resource):
            conn.scope[REFUSAL_SCOPE_KEY] = TokenRefused("wrong_audience", "token resource is not this server")
            return None
        return AuthCredentials(access.scopes), AuthenticatedUser(access)

    def _issued_for_this_resource(self, resource: str | None) -> bool:
        """Compare as URLs (case and default-port spelling aside), a trailing slash aside, as the SDK does."""
        try:
            return str(AnyHttpUrl(resource or "")).removesuffix("/") == self.resource_url
        except ValidationError:
            return False


class RequireBearer:
    """Lets authenticated requests through to `app`; answers the rest with why (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, resource_metadata_url: str, metrics: ServerMetrics | None = None) -> None:
        self.app = app
        self.resource_metadata_url = resource_metadata_url
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if isinstance(scope.get("user"), AuthenticatedUser):
            await self.app(scope, receive, send)
            return
        refusal = scope.get(REFUSAL_SCOPE_KEY)
        if isinstance(refusal, Unavailable):
            retry_after = max(1, math.ceil(refusal.retry_after or 1))
            down = Unavailable("the token signing keys cannot be fetched; retry", retry_after=retry_after)
            await _json_response(
                send,
                503,
                _jsonrpc_error(None, INTERNAL_ERROR, down),
                extra_headers=[(b"retry-after", str(retry_after).encode())],
            )
            return
        if not isinstance(refusal, TokenRefused):  # no backend ran: treat as no credentials
            refusal = TokenRefused("missing", "no bearer token")
        if self.metrics is not None:
            self.metrics.token_refused(refusal.reason)
        if refusal.reason == "missing":
            challenge = f'Bearer resource_metadata="{self.resource_metadata_url}"'
        else:
            challenge = (
                f'Bearer error="invalid_token", error_description="{refusal.description}", '
                f'resource_metadata="{self.resource_metadata_url}"'
            )
        public = TokenRefused(refusal.reason, refusal.description)  # the operator's message stays in the server
        await _json_response(
            send,
            401,
            _jsonrpc_error(None, INVALID_REQUEST, public),
            extra_headers=[(b"www-authenticate", challenge.encode())],
        )
