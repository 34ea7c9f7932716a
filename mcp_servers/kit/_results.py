"""How a deskhand error travels as an MCP tool result: `isError`, text, and a structured payload."""

from __future__ import annotations

from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from schemas import DeskhandError, InvalidArgument


def error_result(error: DeskhandError) -> CallToolResult:
    """An `isError` result whose `structuredContent` is the error's `ErrorPayload`."""
    payload = error.to_payload()
    return CallToolResult(
        content=[TextContent(type="text", text=f"{payload.code}: {payload.message}")],
        structured_content=payload.model_dump(exclude_none=True),
        is_error=True,
    )


def invalid_argument(exc: ValidationError, *, prefix: str = "") -> InvalidArgument:
    """An `InvalidArgument` naming each bad field and what was expected."""
    problems: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        field = f"{prefix}{field}"
        first = first or field
        problems.append(f"{field}: {error['msg']}")
    return InvalidArgument("; ".join(problems), field=first)
