"""A loopback server on 127.0.0.1 that speaks the Anthropic Messages API, for driving the real `anthropic` SDK.

Script the replies, point `AsyncAnthropic(base_url=api.base_url, ...)` at it, and assert on what it received::

    async with LoopbackAnthropic() as api:
        api.script(error(429, "rate_limit_error", "slow down", headers=FAST_RETRY), text('{"ok": true}', ...))
        async with api.client(max_retries=2) as client:
            message = await client.messages.create(...)
        assert len(api.requests) == 2

Each POST /v1/messages (with or without `?beta=true`) is recorded, then answered with the next scripted reply.
With nothing scripted it answers 500 `api_error` "loopback: no scripted reply" with `x-should-retry: false`, so the
SDK fails at once instead of retrying. A request without `model`, `max_tokens` or `messages` gets 400
`invalid_request_error` and does not use up a reply. Leaving the block cleanly with replies still queued fails.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anthropic
import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "FAST_RETRY",
    "ErrorReply",
    "LoopbackAnthropic",
    "MalformedReply",
    "MessageReply",
    "RecordedRequest",
    "Reply",
    "error",
    "malformed",
    "refusal",
    "text",
    "tool_use",
]

FAST_RETRY: dict[str, str] = {"retry-after-ms": "1"}
"""Headers for a retryable error that make the SDK retry after 1 ms (`retry-after-ms` wins over `retry-after`)."""

_ids = itertools.count(1)


@dataclass(frozen=True)
class MessageReply:
    """A 200 with a Message; `model` is echoed from the request."""

    content: tuple[dict[str, Any], ...]
    stop_reason: str
    usage: dict[str, int]
    stop_details: dict[str, Any] | None = None

    def render(self, model: object) -> Response:
        message_id = f"msg_loopback_{next(_ids):04d}"
        body = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": list(self.content),
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "stop_details": self.stop_details,
            "usage": self.usage,
        }
        return JSONResponse(body, headers={"request-id": f"req_{message_id}"})


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with the Anthropic error body."""

    status: int
    type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict[str, str])

    def render(self, model: object) -> Response:
        body = {"type": "error", "error": {"type": self.type, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class MalformedReply:
    """A 200 labelled `application/json` whose body is not JSON."""

    body: str = '{"id": "msg_loopback_truncated", "type": "mess'

    def render(self, model: object) -> Response:
        return Response(self.body, media_type="application/json")


Reply = MessageReply | ErrorReply | MalformedReply


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it: the parsed JSON body and the headers (names lower-cased)."""

    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


def _usage(input_tokens: int, output_tokens: int, cache_creation: int, cache_read: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
    }


def text(
    json_or_text: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
    stop_reason: str = "end_turn",
) -> MessageReply:
    """One text block; structured outputs come back this way, as JSON text."""
    usage = _usage(input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens)
    return MessageReply(({"type": "text", "text": json_or_text, "citations": None},), stop_reason, usage)


def tool_use(
    name: str,
    input: dict[str, Any],
    *,
    id: str | None = None,
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> MessageReply:
    """One `tool_use` block, stop_reason "tool_use"."""
    block = {"type": "tool_use", "id": id or f"toolu_loopback_{next(_ids):04d}", "name": name, "input": input}
    usage = _usage(input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens)
    return MessageReply((block,), "tool_use", usage)


def refusal(*, input_tokens: int = 10, output_tokens: int = 2) -> MessageReply:
    """stop_reason "refusal" with a short text, as the API sends when a classifier intervenes."""
    details = {"type": "refusal", "category": None, "explanation": None}
    block = {"type": "text", "text": "I can't help with that.", "citations": None}
    return MessageReply((block,), "refusal", _usage(input_tokens, output_tokens, 0, 0), stop_details=details)


def error(status: int, type: str, message: str, headers: dict[str, str] | None = None) -> ErrorReply:
    """E.g. `error(429, "rate_limit_error", "slow down", headers=FAST_RETRY)`; 500 `api_error`; 529 `overloaded_error`.

    Without `retry-after-ms`/`retry-after` the SDK backs off 0.5 s, 1 s, ... between retries.
    """
    return ErrorReply(status, type, message, dict(headers or {}))


def malformed() -> MalformedReply:
    return MalformedReply()


_NOTHING_SCRIPTED = ErrorReply(500, "api_error", "loopback: no scripted reply", {"x-should-retry": "false"})
_REQUIRED = ("model", "max_tokens", "messages")


class LoopbackAnthropic:
    """The Messages API on a loopback socket, answering from a script; use `async with` inside the test's loop."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])
        self._port: int | None = None
        self._stack: AsyncExitStack | None = None

    def script(self, *replies: Reply) -> None:
        """Queue replies, answered in order, one per request."""
        self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        return len(self._replies)

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("LoopbackAnthropic is not running; use `async with LoopbackAnthropic() as api:`")
        return f"http://127.0.0.1:{self._port}"

    def client(self, *, max_retries: int = 0, **kwargs: Any) -> anthropic.AsyncAnthropic:
        """A real SDK client pointed at this server."""
        return anthropic.AsyncAnthropic(base_url=self.base_url, api_key="test", max_retries=max_retries, **kwargs)

    async def _messages(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(
            RecordedRequest(request.url.path, request.url.query, headers, body if isinstance(body, dict) else {})
        )
        if not isinstance(body, dict):
            return ErrorReply(400, "invalid_request_error", "loopback: body is not a JSON object").render(None)
        missing = [name for name in _REQUIRED if name not in body]
        if missing:
            return ErrorReply(400, "invalid_request_error", f"loopback: missing {', '.join(missing)}").render(None)
        reply = self._replies.popleft() if self._replies else _NOTHING_SCRIPTED
        return reply.render(body["model"])

    @asynccontextmanager
    async def _serving(self) -> AsyncIterator[None]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()  # connections queue in the backlog until uvicorn accepts, so no wait for startup
            self._port = sock.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: server.serve(sockets=[sock]))
                try:
                    yield
                finally:
                    server.should_exit = True
            self._port = None

    async def __aenter__(self) -> LoopbackAnthropic:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._serving())
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)
        if exc_type is None and self._replies:
            raise AssertionError(f"loopback: {len(self._replies)} scripted replies were never requested")
