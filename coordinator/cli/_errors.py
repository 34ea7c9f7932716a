"""What an expected failure says on the command line: one line naming its code, and for a server that could
not be reached, the server and the URL that failed (never a bare "unhandled errors in a TaskGroup")."""

from __future__ import annotations

from schemas import DeskhandError


def expected(exc: BaseException) -> tuple[str, str] | None:
    """The code and one-line message of a failure the user can act on (exit 1), or None for a bug (a traceback)."""
    from coordinator._sessions import exception_leaves, transport_failure  # not at start-up: it loads the MCP client

    error = next((e for e in exception_leaves(exc) if isinstance(e, DeskhandError)), None)
    if error is None:
        return None
    message = error.message
    if error.code == "unavailable":
        failed = transport_failure(error)
        if failed is not None:
            message = f"{error.field} at {failed}" if error.field else failed
    return error.code, message
