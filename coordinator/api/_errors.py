"""Errors as the API answers them: the status of each code, the project's `ErrorPayload` as the body, and the
`WWW-Authenticate` challenge of a 401 or 403 (RFC 6750)."""

from __future__ import annotations

import logging
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_servers.kit import TokenRefused
from schemas import (
    HTTP_STATUS,
    DeskhandError,
    InsufficientScope,
    InvalidArgument,
    NotFound,
)

logger = logging.getLogger(__name__)

STATUS: Final = HTTP_STATUS
"""The HTTP status of each error code (a test keeps every code here); the console answers with the same."""


def error_response(error: DeskhandError) -> JSONResponse:
    """The error's payload with its status; a 401 or 403 challenges the caller for a bearer token."""
    payload = error.to_payload()
    headers: dict[str, str] = {}
    if isinstance(error, TokenRefused):
        payload = payload.model_copy(update={"message": error.description})  # fixed text, nothing of the token
        headers["www-authenticate"] = (
            'Bearer realm="deskhand"'
            if error.reason == "missing"
            else f'Bearer realm="deskhand", error="invalid_token", error_description="{error.description}"'
        )
    elif error.code == "unauthenticated":
        headers["www-authenticate"] = 'Bearer realm="deskhand", error="invalid_token"'
    elif isinstance(error, InsufficientScope):
        headers["www-authenticate"] = f'Bearer realm="deskhand", error="insufficient_scope", scope="{error.required}"'
    if error.retry_after is not None:
        headers["retry-after"] = str(max(1, round(error.retry_after)))
    return JSONResponse(payload.model_dump(mode="json", exclude_none=True), STATUS[error.code], headers=headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method the route does not take) in the project's payload."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"no such endpoint: {request.url.path}"))
    error = InvalidArgument(f"{request.method} {request.url.path}: {exc.detail}")
    response = error_response(error)
    response.status_code = exc.status_code
    if exc.headers:
        response.headers.update(exc.headers)
    return response


ERROR_STATUSES: Final = sorted(set(STATUS.values()))
"""Every status an error may have, for the OpenAPI document."""
