"""What an expected failure says on the command line: one line naming its code, and for a server that could
not be reached, the server and the URL that failed (never a bare "unhandled errors in a TaskGroup")."""

from __future__ import annotations

from collections.abc import Iterator

import httpx2

from schemas import DeskhandError


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions inside (possibly nested) exception groups, and the causes they were raised from."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
        return
    yield exc
    if exc.__cause__ is not None:
        yield from _leaves(exc.__cause__)


def _transport(exc: BaseException) -> str | None:
    """`crm at http://127.0.0.1:8701/mcp: connection refused`-style words for a transport failure inside."""
    for leaf in _leaves(exc):
        if isinstance(leaf, httpx2.TransportError):
            try:
                url = str(leaf.request.url)
            except RuntimeError:  # an error raised without a request
                url = "?"
            if isinstance(leaf, httpx2.ConnectError):
                why = "connection refused"
            elif isinstance(leaf, httpx2.TimeoutException):
                why = "timed out"
            else:
                why = str(leaf) or type(leaf).__name__
            return f"{url}: {why}"
    return None


def expected(exc: BaseException) -> tuple[str, str] | None:
    """The code and one-line message of a failure the user can act on (exit 1), or None for a bug (a traceback)."""
    error = next((e for e in _leaves(exc) if isinstance(e, DeskhandError)), None)
    if error is None:
        return None
    message = error.message
    if error.code == "unavailable":
        failed = _transport(error)
        if failed is not None:
            message = f"{error.field} at {failed}" if error.field else failed
    return error.code, message
