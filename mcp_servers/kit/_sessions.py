"""Per-tenant and per-principal limits on legacy (`Mcp-Session-Id`) sessions.

The SDK's session manager keeps one table of sessions for the whole server, with one global cap:
one tenant that opens sessions in a loop fills it and every other tenant's new session is refused.
`SessionLimits` wraps the SDK's endpoint (inside the bearer authentication) and counts open
sessions by their owner, from what passes over the wire: a request without a session id that the
SDK answers with one (and a status under 400) opens a session; a DELETE of it, a 404 for it, or
`idle_seconds` with no request in flight close it (the SDK is given the same idle timeout, so it
reaps the session by then). A new session over a limit is refused before the SDK sees it:
429 for the principal's or tenant's limit, 503 for the server's, each with `Retry-After` and a
JSON-RPC error body (`rate_limited`). Requests of the 2026-07-28 era have no session and pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_servers.kit._http import _json_response, _jsonrpc_error
from mcp_servers.kit._jwt import principal_of
from schemas import RateLimited, Unauthenticated

TOO_MANY_SESSIONS: Final = -32029
"""JSON-RPC error code (server range) for a new session refused by a session limit."""

_SESSION_HEADER: Final = MCP_SESSION_ID_HEADER.lower().encode("latin-1")
_VERSION_HEADER: Final = MCP_PROTOCOL_VERSION_HEADER.lower().encode("latin-1")
_HANDSHAKE_VERSIONS: Final = frozenset(HANDSHAKE_PROTOCOL_VERSIONS)

Owner = tuple[str, str, str]
"""Who a session belongs to: (tenant, subject, client id)."""


@dataclass(eq=False)
class _Session:
    owner: Owner
    in_flight: int = 0
    idle_since: float = field(default_factory=time.monotonic)

    def idle_for(self, now: float) -> float:
        return 0.0 if self.in_flight else now - self.idle_since


class SessionLimits:
    """ASGI wrapper over the SDK's MCP endpoint that caps open legacy sessions per principal, tenant and server."""

    def __init__(self, app: ASGIApp, *, per_principal: int, per_tenant: int, total: int, idle_seconds: float) -> None:
        self.app = app
        self.per_principal = per_principal
        self.per_tenant = per_tenant
        self.total = total
        self.idle_seconds = idle_seconds
        self._sessions: dict[str, _Session] = {}  # by session id; opening requests are held under a key of their own
        self._by_principal: dict[Owner, set[str]] = {}
        self._by_tenant: dict[str, set[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session_id: str | None = None
        version: str | None = None
        for name, value in scope["headers"]:
            if name == _SESSION_HEADER:
                session_id = value.decode("latin-1")
            elif name == _VERSION_HEADER:
                version = value.decode("latin-1")
        user = scope.get("user")
        if (version is not None and version not in _HANDSHAKE_VERSIONS) or not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)  # the modern era has no sessions; the unauthenticated never get here
            return
        try:
            principal = principal_of(user.access_token)
        except Unauthenticated:
            await self.app(scope, receive, send)
            return
        owner: Owner = (principal.tenant, principal.subject, principal.client_id)
        if session_id is None:
            await self._open(owner, scope, receive, send)
        else:
            await self._use(owner, session_id, scope, receive, send)

    async def _open(self, owner: Owner, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self._refusal(owner)
        if refusal is not None:
            status, error = refusal
            await _json_response(
                send,
                status,
                _jsonrpc_error(None, TOO_MANY_SESSIONS, error),
                extra_headers=[(b"retry-after", str(math.ceil(error.retry_after or 1)).encode())],
            )
            return
        pending = f"opening:{id(scope)}"
        self._add(pending, _Session(owner, in_flight=1))
        status = 0
        opened: str | None = None

        async def watch(message: Message) -> None:
            nonlocal status, opened
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                opened = next((v.decode("latin-1") for k, v in headers if k == _SESSION_HEADER), None)
                if status in (429, 503) and not any(k == b"retry-after" for k, _ in headers):
                    # the SDK's own session cap (a backstop behind ours) says no Retry-After
                    message = {**message, "headers": [*headers, (b"retry-after", b"1")]}
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._remove(pending)
            if opened is not None and status < 400:
                self._add(opened, _Session(owner))

    async def _use(self, owner: Owner, session_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(session_id)
        if session is None or session.owner != owner:  # not ours to count: the SDK answers (404 for another's)
            await self.app(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        session.in_flight += 1
        try:
            await self.app(scope, receive, watch)
        finally:
            session.in_flight -= 1
            session.idle_since = time.monotonic()
            if status == 404 or (scope["method"] == "DELETE" and 200 <= status < 300):
                self._remove(session_id)

    def _refusal(self, owner: Owner) -> tuple[int, RateLimited] | None:
        """Why a new session for `owner` is refused (status and error), or None. Counting costs a lookup;
        only a count at its limit looks at the sessions themselves, to reap the idle ones first."""
        now = time.monotonic()
        principal_ids = self._by_principal.get(owner, set())
        if len(principal_ids) >= self.per_principal:
            refusal = self._full(list(principal_ids), self.per_principal, now, "this principal has")
            if refusal is not None:
                return 429, refusal
        tenant_ids = self._by_tenant.get(owner[0], set())
        if len(tenant_ids) >= self.per_tenant:
            refusal = self._full(list(tenant_ids), self.per_tenant, now, "this tenant has")
            if refusal is not None:
                return 429, refusal
        if len(self._sessions) >= self.total:
            refusal = self._full(list(self._sessions), self.total, now, "the server has")
            if refusal is not None:
                return 503, refusal
        return None

    def _full(self, ids: list[str], limit: int, now: float, who: str) -> RateLimited | None:
        """Reap the idle sessions among `ids`; if `limit` of them are still open, the error to answer with."""
        remaining: list[_Session] = []
        for session_id in ids:
            session = self._sessions[session_id]
            if session.idle_for(now) >= self.idle_seconds:
                self._remove(session_id)
            else:
                remaining.append(session)
        if len(remaining) < limit:
            return None
        idle = [s.idle_for(now) for s in remaining if not s.in_flight]
        retry_after = self.idle_seconds - max(idle) if idle else self.idle_seconds
        return RateLimited(
            f"{who} {len(remaining)} open sessions, the limit; close one (HTTP DELETE) or retry later",
            retry_after=max(1, math.ceil(retry_after)),
        )

    def _add(self, session_id: str, session: _Session) -> None:
        self._sessions[session_id] = session
        self._by_principal.setdefault(session.owner, set()).add(session_id)
        self._by_tenant.setdefault(session.owner[0], set()).add(session_id)

    def _remove(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is None:
            return
        principal_ids = self._by_principal.get(session.owner)
        if principal_ids is not None:
            principal_ids.discard(session_id)
            if not principal_ids:
                del self._by_principal[session.owner]
        tenant_ids = self._by_tenant.get(session.owner[0])
        if tenant_ids is not None:
            tenant_ids.discard(session_id)
            if not tenant_ids:
                del self._by_tenant[session.owner[0]]
