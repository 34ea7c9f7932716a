"""The guard: MCP middleware that authenticates, authorizes, rate-limits, audits and counts every call.

It runs on every transport (streamable HTTP, stdio, in memory), so the checks hold wherever
a request comes from. On HTTP the `ScopeGate` in front of it answers the same denials with the
proper status codes; the guard stays the authority.

- `tools/list` shows only the tools whose scope the principal holds.
- `tools/call` needs the tool's scope; a denial is an error result with code
  `insufficient_scope` (and is audited), a spent tenant budget is `rate_limited`.
- The principal and the idempotency key of the call in flight are available to the tool
  through `current_call()` (a contextvar, set and reset here only).
- Text no backend can store (NUL, lone surrogates) is refused in arguments as `invalid_argument`
  naming the field, so every backend answers alike.
- Each call's outcome and time, and each denial by tenant, tool and code, are counted (`ServerMetrics`).
- Any unexpected exception becomes a JSON-RPC internal error naming a correlation id (the
  traceback is logged once under it), never a reply with details.
"""

from __future__ import annotations

import contextvars
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, INVALID_REQUEST
from pydantic import ValidationError

from mcp_servers.kit._audit import AuditLog, Outcome, PendingRow, hash_and_size
from mcp_servers.kit._jwt import JwtVerifier, principal_of
from mcp_servers.kit._metrics import ServerMetrics
from mcp_servers.kit._ratelimit import RateLimiter
from mcp_servers.kit._results import error_result, internal_error
from mcp_servers.kit._tracing import mark_call
from schemas import (
    META_IDEMPOTENCY_KEY,
    META_RUN,
    META_TRACEPARENT,
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
    audit: PendingRow | None = None
    """A write's audit row, for the write path to insert in the write's transaction (then marked written)."""


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
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.specs = specs
        self.metrics = metrics
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
        try:
            if ctx.method == "tools/call":
                return await self._call_tool(ctx, call_next)
            if ctx.method == "tools/list":
                return await self._list_tools(ctx, call_next)
            return await call_next(ctx)
        except MCPError:
            raise
        except ValidationError as exc:  # the SDK's parsing of the request's params (wrong shapes)
            fields = ", ".join(".".join(str(p) for p in error["loc"]) for error in exc.errors()[:5])
            raise MCPError(code=INVALID_PARAMS, message=f"invalid params: {fields or ctx.method}") from None
        except Exception:  # noqa: BLE001 - the top of the request path: logged once, answered without details
            raise internal_error(ctx.method) from None

    async def _list_tools(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            principal, _ = self.principal()
        except Unauthenticated as exc:
            raise MCPError(code=INVALID_REQUEST, message=f"unauthenticated: {exc.message}") from exc
        result = await call_next(ctx)
        if isinstance(result, dict):  # the wire form of ListToolsResult
            tools = result.get("tools") or []
            return {**result, "tools": [t for t in tools if self._allows(principal, t.get("name", ""))]}
        return result

    def _allows(self, principal: Principal, tool: str) -> bool:
        spec = self.specs.get(tool)
        return spec is not None and principal.allows(spec.scope)

    async def _call_tool(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        started = time.perf_counter()
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        name = params.get("name")
        name = name if isinstance(name, str) else ""
        arguments = params.get("arguments") or {}
        raw_meta = params.get("_meta")
        meta = raw_meta if isinstance(raw_meta, Mapping) else {}
        key = meta.get(META_IDEMPOTENCY_KEY)
        principal: Principal | None = None
        digest = ""
        try:
            try:
                digest, size, suspect = hash_and_size(arguments)
            except RecursionError:
                raise InvalidArgument("the arguments are nested too deeply", field="(arguments)") from None
            principal, over_http = self.principal()
            if not isinstance(arguments, Mapping):
                raise InvalidArgument("the arguments must be an object", field="(arguments)")
            if raw_meta is not None and not isinstance(raw_meta, Mapping):
                raise InvalidArgument("_meta must be an object", field="_meta")
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
                    retry_after=max(0.001, round(retry_after, 3)),  # never 0: a client would retry at once
                )
            if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200 or not key.isprintable()):
                raise InvalidArgument(
                    "the idempotency key must be a string of 1 to 200 printable characters",
                    field=f"_meta.{META_IDEMPOTENCY_KEY}",
                )
            unstorable = _unstorable_text(arguments, "") if suspect else None
            if unstorable is not None:
                raise InvalidArgument(
                    f"{unstorable or '(arguments)'}: text must not contain NUL characters or lone surrogates",
                    field=unstorable or "(arguments)",
                )
        except DeskhandError as exc:
            self._audit(principal, name, digest, "denied", exc.code, started, key, meta)
            return error_result(exc)

        mark_call(principal.tenant, principal.run or meta.get(META_RUN))
        pending = None
        if spec.side_effect == "write":
            pending = PendingRow(self._row(principal, name, digest, key, meta), started)
        token = _current_call.set(CallContext(principal, spec, key if spec.side_effect == "write" else None, pending))
        try:
            result = await call_next(ctx)
        finally:
            _current_call.reset(token)
        if pending is not None and pending.written:
            if self.metrics is not None:
                self.metrics.call(name, "allowed", time.perf_counter() - started)
            return result  # its row was committed with the write
        outcome: Outcome = "allowed"
        code: str | None = None
        if isinstance(result, dict) and result.get("isError"):  # the wire form of CallToolResult
            outcome = "failed"
            payload = result.get("structuredContent") or {}
            code = str(payload.get("code", "internal")) if isinstance(payload, dict) else "internal"
        self._audit(principal, name, digest, outcome, code, started, key, meta)
        return result

    def _row(
        self, principal: Principal | None, tool: str, digest: str, key: Any, meta: Mapping[str, Any]
    ) -> dict[str, Any]:
        run = principal.run if principal is not None and principal.run else meta.get(META_RUN)
        return self.audit.row(
            tenant=principal.tenant if principal else None,
            subject=principal.subject if principal else None,
            client_id=principal.client_id if principal else None,
            actor=principal.actor if principal else None,
            tool=tool,
            args_digest=digest,
            idempotency_key=key,
            run_id=run,
            trace_id=trace_id(meta.get(META_TRACEPARENT)),
        )

    def _audit(
        self,
        principal: Principal | None,
        tool: str,
        digest: str,
        outcome: Outcome,
        code: str | None,
        started: float,
        key: Any,
        meta: Mapping[str, Any],
    ) -> None:
        seconds = time.perf_counter() - started
        self.audit.queue(
            self._row(principal, tool, digest, key, meta), outcome=outcome, code=code, latency_ms=seconds * 1000
        )
        if self.metrics is not None:
            self.metrics.call(tool, outcome, seconds)
            if outcome == "denied":
                self.metrics.denied(principal.tenant if principal else None, tool, code or "")


def trace_id(traceparent: Any) -> str | None:
    """The trace id of a W3C `traceparent` (`00-<trace id>-<span id>-<flags>`), or the value as sent when it
    is not one (the audit bounds and sanitises it)."""
    if not isinstance(traceparent, str):
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else traceparent


def _unstorable_text(value: Any, path: str) -> str | None:
    """The path of the first string (or key) in `value` holding a NUL or a lone surrogate, else None."""
    if isinstance(value, str):
        if value.isprintable() or not _UNSTORABLE.search(value):
            return None
        return path
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return path or "(arguments)"
            found = _unstorable_text(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unstorable_text(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
