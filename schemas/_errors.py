"""The error root every deskhand package shares, with a stable code per failure mode.

    DeskhandError                      (code: ErrorCode)
    ├── InvalidArgument                invalid_argument     bad input; `field` names it
    ├── NotFound                       not_found            missing, or another tenant's
    ├── Unauthenticated                unauthenticated      no token, or a token that fails verification
    ├── InsufficientScope              insufficient_scope   the principal lacks the tool's scope
    ├── RateLimited                    rate_limited         the tenant's request budget is spent
    ├── RequestTooLarge                request_too_large    the request is over the size limit
    ├── IdempotencyConflict            idempotency_conflict the key was used with other arguments
    ├── Conflict                       conflict             the write contradicts the stored state
    ├── Unavailable                    unavailable          a dependency is down; retry later
    ├── ConfigError                    config_error         a file the user wrote is wrong (names file, field)
    ├── ToolNotAvailable               tool_not_available   the tool is outside the caller's manifest or list
    ├── BudgetExhausted                budget_exhausted     a run or tenant budget would be overrun
    ├── ModelOutputError               model_output_invalid the model's answer was malformed or refused
    └── ToolOutputInvalid              tool_output_invalid  a tool answered with a result outside its output schema

Tests and callers match on `code`, never on the message. `ErrorPayload` is the wire form that
MCP servers put in `structuredContent` of an error result, and `error_from_payload` turns it back
into the matching exception on the client side.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict

ErrorCode = Literal[
    "invalid_argument",
    "not_found",
    "unauthenticated",
    "insufficient_scope",
    "rate_limited",
    "request_too_large",
    "idempotency_conflict",
    "conflict",
    "unavailable",
    "config_error",
    "tool_not_available",
    "budget_exhausted",
    "model_output_invalid",
    "tool_output_invalid",
]

HTTP_STATUS: Final[dict[ErrorCode, int]] = {
    "invalid_argument": 400,
    "config_error": 400,
    "not_found": 404,
    "unauthenticated": 401,
    "insufficient_scope": 403,
    "conflict": 409,
    "idempotency_conflict": 409,
    "request_too_large": 413,
    "rate_limited": 429,
    "budget_exhausted": 429,
    "unavailable": 503,
    "tool_not_available": 403,
    "model_output_invalid": 502,
    "tool_output_invalid": 502,
}
"""The HTTP status of each error code, for the faces that answer over HTTP (the API, the console)."""


class ErrorPayload(BaseModel):
    """An error as it crosses a process boundary."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    code: ErrorCode
    message: str
    field: str | None = None
    retry_after: float | None = None
    required_scope: str | None = None


class DeskhandError(Exception):
    """The root of every error deskhand raises on purpose."""

    code: ClassVar[ErrorCode]

    def __init__(self, message: str, *, field: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def to_payload(self) -> ErrorPayload:
        return ErrorPayload(code=self.code, message=self.message, field=self.field, retry_after=self.retry_after)


class InvalidArgument(DeskhandError):
    code = "invalid_argument"


class NotFound(DeskhandError):
    code = "not_found"


class Unauthenticated(DeskhandError):
    code = "unauthenticated"


class InsufficientScope(DeskhandError):
    code = "insufficient_scope"

    def __init__(self, message: str, *, required: str) -> None:
        super().__init__(message)
        self.required = required

    def to_payload(self) -> ErrorPayload:
        return super().to_payload().model_copy(update={"required_scope": self.required})


class RateLimited(DeskhandError):
    code = "rate_limited"


class RequestTooLarge(DeskhandError):
    code = "request_too_large"


class IdempotencyConflict(DeskhandError):
    code = "idempotency_conflict"


class Conflict(DeskhandError):
    code = "conflict"


class Unavailable(DeskhandError):
    code = "unavailable"


class ConfigError(DeskhandError):
    code = "config_error"


class ToolNotAvailable(DeskhandError):
    code = "tool_not_available"


class BudgetExhausted(DeskhandError):
    code = "budget_exhausted"


class ModelOutputError(DeskhandError):
    code = "model_output_invalid"


class ToolOutputInvalid(DeskhandError):
    """The server answered, but not with the tool's output model (malformed or cut short): the call may have
    taken effect, so only a read or a keyed write is tried again."""

    code = "tool_output_invalid"


_BY_CODE: dict[str, type[DeskhandError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        Unauthenticated,
        RateLimited,
        RequestTooLarge,
        IdempotencyConflict,
        Conflict,
        Unavailable,
        ConfigError,
        ToolNotAvailable,
        BudgetExhausted,
        ModelOutputError,
        ToolOutputInvalid,
    )
}


def error_from_payload(payload: ErrorPayload) -> DeskhandError:
    """The exception a payload stands for (the client side of `DeskhandError.to_payload`)."""
    if payload.code == "insufficient_scope":
        return InsufficientScope(payload.message, required=payload.required_scope or "")
    return _BY_CODE[payload.code](payload.message, field=payload.field, retry_after=payload.retry_after)
