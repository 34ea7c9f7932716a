"""What the boundary fuzz tests share: hypothesis settings, hostile values, and the checks made after each call.

The settings are deterministic (`derandomize`, no example database) so CI sees the same inputs on every run;
`DESKHAND_FUZZ_EXAMPLES=N` runs N random examples per test instead, for a longer campaign on a workstation;
`DESKHAND_FUZZ_KEPT_ONLY=1` runs only the explicit `@example`s, the inputs that once broke the boundary.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlmodel import col, func, select

from mcp_servers.kit import AuditRecord, GuardedServer
from schemas import ErrorPayload

_CAMPAIGN = int(os.environ.get("DESKHAND_FUZZ_EXAMPLES", "0"))
_KEPT_ONLY = os.environ.get("DESKHAND_FUZZ_KEPT_ONLY", "") not in ("", "0")


def fuzz_settings(max_examples: int) -> settings:
    """`max_examples` deterministic examples (or a random campaign of `DESKHAND_FUZZ_EXAMPLES`), no deadline:
    the checks after each call touch the database, and a slow example is not a failure."""
    return settings(
        max_examples=_CAMPAIGN or max_examples,
        derandomize=not _CAMPAIGN,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
        phases=[Phase.explicit] if _KEPT_ONLY else list(Phase),
    )


ODD = [
    "\x00",  # NUL: PostgreSQL text refuses it
    "\ud800",  # lone high surrogate: not encodable as UTF-8
    "\udfff",  # lone low surrogate
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\ufeff",  # byte order mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u0301",  # a combining mark with nothing to combine with
    "\x1b[31m",  # a terminal escape
    "\x7f",
    "\r\n",
    "\U0001f600",  # outside the BMP
    "\uffff",  # a non-character
    "' OR 1=1 --",
    "%s%n",
    "${jndi:x}",
    "..\\..//",
]
"""Characters and fragments that have broken text handling somewhere: storage, logs, terminals, headers."""

odd_text = st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=8)), max_size=6).map("".join)
"""Short text made mostly of the fragments above."""

long_text = st.integers(min_value=190, max_value=320).flatmap(
    lambda n: st.sampled_from(["k", "é", "\U0001f600", "\x00"]).map(lambda c: c * n)
)
"""Text around the 200- and 300-character limits of stored columns (keys, names, short text)."""

hostile_text = st.deferred(lambda: st.one_of(odd_text, long_text, st.text(max_size=40)))
"""Any text a hostile caller might send in a string field."""

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.deferred(
    lambda: st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
        max_leaves=8,
    )
)
"""Any JSON value, of any shape, with hostile text in it."""


def without_surrogates(text: str) -> str:
    """`text` with lone surrogates dropped: for the places a client cannot send them at all (HTTP headers)."""
    return "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)


def check_error_payload(structured: Any) -> ErrorPayload:
    """The typed error of a tool error result (a code the client can act on), or an assertion."""
    assert isinstance(structured, dict), f"a tool error without a typed payload: {structured!r}"
    return ErrorPayload.model_validate(structured)


def table_snapshot(server: GuardedServer) -> dict[str, list[str]]:
    """Every row of every table of `server` but the audit log, to compare before and after a call."""
    snapshot: dict[str, list[str]] = {}
    with server.db.admin_session() as session:
        for table in server.tables:
            if table is AuditRecord:
                continue
            rows = session.exec(select(table)).all()
            snapshot[table.__name__] = sorted(repr(row.model_dump()) for row in rows)
    return snapshot


async def audit_count(server: GuardedServer) -> int:
    """The audit rows stored, after writing what is queued."""
    await server.audit.flush()
    with server.db.admin_session() as session:
        return int(session.exec(select(func.count(col(AuditRecord.seq)))).one())
