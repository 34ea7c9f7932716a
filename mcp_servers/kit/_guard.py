"""The guard: MCP middleware that authenticates, authorizes, rate-limits and audits every call.

It runs on every transport (streamable HTTP, stdio, in memory), so the checks hold wherever
a request comes from. On HTTP the `ScopeGate` in front of it answers the same denials with the
proper status codes; the guard stays the authority.

- `tools/list` shows only the tools whose scope the principal holds.
- `tools/call` needs the tool's scope; a denial is an error result with code
  `insufficient_scope` (and is audited), a spent tenant budget is `rate_limited`.
- The principal and the idempotency key of the call in flight are available to the tool
  through `current_call()` (a contextvar, set and reset here only).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_REQUEST

from mcp_servers.kit._audit import AuditLog, Outcome, hash_and_size
from mcp_servers.kit._jwt import JwtVerifier, principal_of
from mcp_servers.kit._ratelimit import RateLimiter
from mcp_servers.kit._results import error_result
from schemas import (
    META_IDEMPOTENCY_KEY,
    DeskhandError,
    InsufficientScope,
    InvalidArgument,
    Principal,
    RateLimited,
    RequestTooLarge,
    ToolSpec,
    Unauthenticated,
)


@dataclass(frozen=True, slots=True)
class CallContext:
    principal: Principal
    spec: ToolSpec
    idempotency_key: str | None


_current_call: contextvars.ContextVar[CallContext] = contextvars.ContextVar("deskhand_call")


def current_call() -> CallContext:
    """The principal, tool and idempotency key of the call in flight (inside a guarded tool only)."""
    try:
        return _current_call.get()
    except LookupError:
        raise RuntimeError("current_call() outside a guarded tool call") from None


class StaticCredential:
    """A credential fixed for the life of the server: stdio (from the environment) and in-memory use.

    It is verified like any bearer token when the server starts, and its expiry is checked again
    on every call.
    """

    def __init__(self, principal: Principal, expires_at: int | None) -> None:
        self.principal = principal
        self.expires_at = expires_at

    @classmethod
    async def verify(cls, verifier: JwtVerifier, token: str) -> StaticCredential:
        access, principal = await verifier.verify(token)
        return cls(principal, access.expires_at)

    def current(self) -> Principal:
        if self.expires_at is not None and self.expires_at < time.time():
            raise Unauthenticated("the server's credential has expired: mint a new token and restart the server")
        return self.principal


class Guard:
    """`ServerMiddleware` for a guarded server; see the module docstring."""

    def __init__(
        self,
        specs: Mapping[str, ToolSpec],
        *,
        audit: AuditLog,
        limiter: RateLimiter,
        max_request_bytes: int,
        credential: StaticCredential | None = None,
    ) -> None:
        self.specs = specs
        self.audit = audit
        self.limiter = limiter
        self.max_request_bytes = max_request_bytes
        self.credential = credential

    def principal(self) -> tuple[Principal, bool]:
        """The caller, and whether it came over HTTP (where the gate already checked the size)."""
        access = get_access_token()
        if access is not None:
            return principal_of(access), True
        if self.credential is not None:
            return self.credential.current(), False
        raise Unauthenticated("no credential: set DESKHAND_TOKEN to a token from `deskhand token mint`")

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call":
            return await self._call_tool(ctx, call_next)
        if ctx.method == "tools/list":
            try:
                principal, _ = self.principal()
            except Unauthenticated as exc:
                raise MCPError(code=INVALID_REQUEST, message=f"unauthenticated: {exc.message}") from exc
            result = await call_next(ctx)
            if isinstance(result, dict):  # the wire form of ListToolsResult
                tools = result.get("tools") or []
                return {**result, "tools": [t for t in tools if self._allows(principal, t.get("name", ""))]}
            return result
        return await call_next(ctx)

    def _allows(self, principal: Principal, tool: str) -> bool:
        spec = self.specs.get(tool)
        return spec is not None and principal.allows(spec.scope)

    async def _call_tool(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        started = time.perf_counter()
        params = ctx.params or {}
        name = str(params.get("name", ""))
        arguments = params.get("arguments") or {}
        meta = params.get("_meta") or {}
        key = meta.get(META_IDEMPOTENCY_KEY) if isinstance(meta, Mapping) else None
        digest, size = hash_and_size(arguments)
        principal: Principal | None = None
        try:
            principal, over_http = self.principal()
            spec = self.specs.get(name)
            if spec is None:
                raise InvalidArgument(f"unknown tool {name!r}", field="name")
            if not principal.allows(spec.scope):
                raise InsufficientScope(f"tool {name!r} needs scope {spec.scope!r}", required=spec.scope)
            if not over_http and size > self.max_request_bytes:
                raise RequestTooLarge(f"arguments are over the limit of {self.max_request_bytes} bytes")
            retry_after = self.limiter.acquire(principal.tenant)
            if retry_after is not None:
                raise RateLimited(
                    f"tenant {principal.tenant!r} is over its rate limit; retry in {retry_after:.2f}s",
                    retry_after=round(retry_after, 3),
                )
            if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
                raise InvalidArgument(
                    "the idempotency key must be a string of 1 to 200 characters", field=f"_meta.{META_IDEMPOTENCY_KEY}"
                )
        except DeskhandError as exc:
            self._audit(principal, name, digest, "denied", exc.code, started, key)
            return error_result(exc)

        token = _current_call.set(CallContext(principal, spec, key if spec.side_effect == "write" else None))
        try:
            result = await call_next(ctx)
        finally:
            _current_call.reset(token)
        outcome: Outcome = "allowed"
        code: str | None = None
        if isinstance(result, dict) and result.get("isError"):  # the wire form of CallToolResult
            outcome = "failed"
            payload = result.get("structuredContent") or {}
            code = str(payload.get("code", "internal")) if isinstance(payload, dict) else "internal"
        self._audit(principal, name, digest, outcome, code, started, key)
        return result

    def _audit(
        self,
        principal: Principal | None,
        tool: str,
        digest: str,
        outcome: Outcome,
        code: str | None,
        started: float,
        key: Any,
    ) -> None:
        self.audit.record(
            tenant=principal.tenant if principal else None,
            subject=principal.subject if principal else None,
            client_id=principal.client_id if principal else None,
            tool=tool[:200],
            args_digest=digest,
            outcome=outcome,
            code=code,
            latency_ms=(time.perf_counter() - started) * 1000,
            idempotency_key=key if isinstance(key, str) else None,
        )
