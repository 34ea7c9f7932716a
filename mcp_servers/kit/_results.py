"""How a deskhand error travels as an MCP tool result: `isError`, text, and a structured payload."""

from __future__ import annotations

import logging
import re
import uuid

from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, CallToolResult, TextContent
from pydantic import ValidationError

from schemas import DeskhandError, InvalidArgument

logger = logging.getLogger(__name__)


def error_result(error: DeskhandError) -> CallToolResult:
    """An `isError` result whose `structuredContent` is the error's `ErrorPayload`."""
    payload = error.to_payload()
    return CallToolResult(
        content=[TextContent(type="text", text=f"{payload.code}: {payload.message}")],
        structured_content=payload.model_dump(exclude_none=True),
        is_error=True,
    )


def invalid_argument(exc: ValidationError) -> InvalidArgument:
    """An `InvalidArgument` naming each bad field and what was expected.

    The field is the path of argument names and list indexes (`items.0.email`); the tags pydantic
    adds for the member of a union (`literal['a','b']`) are left out, and a field that failed
    several union members is reported once with every expectation.
    """
    problems: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False, include_input=False):
        parts = [str(p) for p in error["loc"] if isinstance(p, int) or _FIELD_NAME.match(str(p))]
        field = ".".join(parts) or "(arguments)"
        problems.setdefault(field, []).append(error["msg"])
    message = "; ".join(f"{field}: {' or '.join(dict.fromkeys(msgs))}" for field, msgs in problems.items())
    return InvalidArgument(message, field=next(iter(problems)))


_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def internal_error(where: str) -> MCPError:
    """The JSON-RPC internal error for the exception being handled: its traceback is logged here, once, under
    a new correlation id, and the reply names only that id (no details reach the caller)."""
    correlation_id = new_correlation_id()
    logger.exception("internal error %s in %s", correlation_id, where)
    return MCPError(
        code=INTERNAL_ERROR,
        message=f"internal error (correlation id {correlation_id})",
        data={"correlation_id": correlation_id},
    )


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]
