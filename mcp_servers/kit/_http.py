"""The HTTP face of the guard: status codes a client can act on, before the MCP layer runs.

`ScopeGate` wraps the SDK's `/mcp` endpoint, inside the SDK's bearer authentication:
- a body over the limit → 413, nothing read past the limit;
- a `tools/call` for a tool whose scope the token lacks → 403 with
  `WWW-Authenticate: Bearer error="insufficient_scope", scope="<needed>", resource_metadata=...`
  (the SDK alone would answer a 200 with an error inside), audited and counted as a denial.
Both bodies are JSON-RPC errors whose `data` is the `ErrorPayload`, so an MCP client (the SDK's
included) surfaces the code and message instead of a bare status;
- a body too deeply nested to parse → 400 with a JSON-RPC parse error;
- a request reusing the id of one still in flight in the same legacy session → 409 (the SDK
  routes replies by id, so it would take the other's reply and one of them would hang);
- everything else goes on to the SDK (missing or invalid tokens get its 401).
The tool is read from the JSON-RPC body (both protocol eras); the guard behind the gate checks
again whatever the gate lets through.

Every error reply that passes the gate is JSON: the SDK's plain-text refusals (a wrong content
type, host or origin) are rewritten into JSON-RPC errors with the same status, and an unexpected
exception becomes a JSON-RPC internal error naming a correlation id (its traceback logged once).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.types import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_servers.kit._audit import AuditLog, hash_and_size
from mcp_servers.kit._jwt import principal_of
from mcp_servers.kit._metrics import ServerMetrics
from mcp_servers.kit._results import new_correlation_id
from schemas import DeskhandError, InsufficientScope, RequestTooLarge, ToolSpec, Unauthenticated

logger = logging.getLogger(__name__)


class ScopeGate:
    def __init__(
        self,
        app: ASGIApp,
        *,
        specs: Mapping[str, ToolSpec],
        audit: AuditLog,
        max_request_bytes: int,
        resource_metadata_url: str,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.app = app
        self.specs = specs
        self.metrics = metrics
        self.audit = audit
        self.max_request_bytes = max_request_bytes
        self.resource_metadata_url = resource_metadata_url
        self._in_flight: set[tuple[str, str]] = set()
        """(session, request id) of the legacy-session requests being answered: the SDK routes a reply by
        the request id alone, so a second request with the id of one in flight would take its reply."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reply = _JsonErrors(send)
        try:
            await self._gate(scope, receive, reply.send)
        except Exception:  # noqa: BLE001 - the top of the request path: logged once, answered without details
            correlation_id = new_correlation_id()
            logger.exception("internal error %s in %s %s", correlation_id, scope["method"], scope.get("path"))
            if not reply.started:
                message = f"internal error (correlation id {correlation_id})"
                body = {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": INTERNAL_ERROR, "message": message, "data": {"correlation_id": correlation_id}},
                }
                await _json_response(send, 500, body)

    async def _gate(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_bytes:
            await self._too_large(send, int(declared))
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body.extend(message.get("body", b""))
            if len(body) > self.max_request_bytes:
                await self._too_large(send, len(body))
                return
            more = message.get("more_body", False)

        try:
            request_id, method, name, arguments = self._what(headers, bytes(body))
        except RecursionError:
            error = {"code": PARSE_ERROR, "message": "Parse error: the JSON is nested too deeply"}
            await _json_response(send, 400, {"jsonrpc": "2.0", "id": None, "error": error})
            return
        user = scope.get("user")
        if method == "tools/call" and name is not None:
            if not isinstance(user, AuthenticatedUser):
                self.audit.record(
                    tenant=None,
                    subject=None,
                    client_id=None,
                    tool=name,
                    args_digest=hash_and_size(arguments)[0],
                    outcome="denied",
                    code="unauthenticated",
                    latency_ms=(time.perf_counter() - started) * 1000,
                )
                if self.metrics is not None:
                    self.metrics.denied(None, name, "unauthenticated")
            else:
                spec = self.specs.get(name)
                try:
                    principal = principal_of(user.access_token)
                except Unauthenticated:
                    principal = None
                if spec is not None and principal is not None and not principal.allows(spec.scope):
                    self.audit.record(
                        tenant=principal.tenant,
                        subject=principal.subject,
                        client_id=principal.client_id,
                        tool=name,
                        args_digest=hash_and_size(arguments)[0],
                        outcome="denied",
                        code="insufficient_scope",
                        latency_ms=(time.perf_counter() - started) * 1000,
                    )
                    if self.metrics is not None:
                        self.metrics.denied(principal.tenant, name, "insufficient_scope")
                    await self._insufficient_scope(send, request_id, name, spec.scope)
                    return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        session = headers.get("mcp-session-id")
        if session is None or request_id is None or method is None:
            await self.app(scope, replay, send)
            return
        in_flight = (session, str(request_id))  # the SDK keys its reply streams by str(id)
        if in_flight in self._in_flight:
            error = {
                "code": INVALID_REQUEST,
                "message": f"request id {request_id!r} is already in flight in this session; use a new id",
            }
            await _json_response(send, 409, {"jsonrpc": "2.0", "id": request_id, "error": error})
            return
        self._in_flight.add(in_flight)
        try:
            await self.app(scope, replay, send)
        finally:
            self._in_flight.discard(in_flight)

    @staticmethod
    def _what(headers: Headers, body: bytes) -> tuple[Any, str | None, str | None, Any]:
        """The JSON-RPC id, the method, the tool name (for tools/call) and the arguments."""
        try:
            message = json.loads(body)
        except ValueError:
            return None, headers.get("mcp-method"), headers.get("mcp-name"), None
        if not isinstance(message, dict):
            return None, None, None, None
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        name = params.get("name")
        request_id = message.get("id")
        request_id = request_id if isinstance(request_id, str | int) else None
        return request_id, message.get("method"), name if isinstance(name, str) else None, params.get("arguments") or {}

    async def _too_large(self, send: Send, size: int) -> None:
        error = RequestTooLarge(
            f"the request body is {size}+ bytes; this server accepts at most {self.max_request_bytes}"
        )
        await _json_response(send, 413, _jsonrpc_error(None, INVALID_REQUEST, error))

    async def _insufficient_scope(self, send: Send, request_id: Any, tool: str, needed: str) -> None:
        error = InsufficientScope(f"tool {tool!r} needs scope {needed!r}", required=needed)
        challenge = (
            f'Bearer error="insufficient_scope", scope="{needed}", '
            f'error_description="tool {tool} needs scope {needed}", resource_metadata="{self.resource_metadata_url}"'
        )
        await _json_response(
            send,
            403,
            _jsonrpc_error(request_id, FORBIDDEN, error),
            extra_headers=[(b"www-authenticate", challenge.encode())],
        )


FORBIDDEN = -32003
"""JSON-RPC error code (server range) for a call the principal is not allowed to make."""


def _jsonrpc_error(request_id: Any, code: int, error: DeskhandError) -> dict[str, Any]:
    payload = error.to_payload()
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {
            "code": code,
            "message": f"{payload.code}: {payload.message}",
            "data": payload.model_dump(exclude_none=True),
        },
    }


async def _json_response(
    send: Send, status: int, body: dict[str, Any], extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class _JsonErrors:
    """Wraps `send` so that an error reply that is not JSON (the SDK's plain-text refusals) goes out as a
    JSON-RPC error with the same status and its text as the message."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self._held: Message | None = None
        self._text = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
            if message["status"] >= 400 and not content_type.startswith("application/json"):
                self._held = message
                return
        elif message["type"] == "http.response.body" and self._held is not None:
            self._text.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            held, self._held = self._held, None
            status = held["status"]
            text = self._text.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
            kept = [(k, v) for k, v in held.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
            error = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": text}}
            await _json_response(self._send, status, error, extra_headers=kept)
            return
        await self._send(message)
