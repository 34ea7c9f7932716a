"""The audit trail of a server: one row for every tool call, allowed or denied.

Rows of reads and denials are queued on the request path (no I/O there) and written in batches by a
background task, at most every 50 ms, so a burst of calls costs one transaction, not one each. The row
of a write is inserted in the write's own transaction instead (`PendingRow`), so a committed write
always has its row. `AuditLog.flush()` writes what is queued; the server's lifespan flushes on shutdown.

Nothing a caller sends can stop the trail: every text is made storable first (control characters and
lone surrogates replaced, lengths bounded, the SHA-256 of an altered tool name or key kept), a batch
that still fails is split down to the row that fails, which is counted and dropped, and the queue is
bounded (overflow is counted and dropped, never waited for). `AuditLog.stats` reads the counters.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from sqlalchemy import Connection, insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Field, SQLModel

from mcp_servers.kit._storage import Database, utc_field
from schemas import canonical_json

logger = logging.getLogger(__name__)

Outcome = Literal["allowed", "denied", "failed"]
"""allowed: the tool ran and succeeded; denied: the boundary refused it; failed: the tool ran and erred."""

TEXT_LIMIT = 200
"""The length of the audit's caller-supplied text columns (tool, idempotency key, subject, run, trace)."""


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_log"

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(index=True)
    tenant_id: str | None = Field(default=None, index=True, max_length=64)
    subject: str | None = Field(default=None, max_length=TEXT_LIMIT)
    client_id: str | None = Field(default=None, max_length=TEXT_LIMIT)
    actor: str | None = Field(default=None, max_length=TEXT_LIMIT)
    """Who the call was made on behalf of (the token's RFC 8693 `act` subject, e.g. an approver)."""
    run_id: str | None = Field(default=None, max_length=TEXT_LIMIT)
    trace_id: str | None = Field(default=None, max_length=TEXT_LIMIT)
    tool: str = Field(max_length=TEXT_LIMIT)
    tool_sha256: str | None = Field(default=None, max_length=64)
    """The SHA-256 of the tool name as sent, when it had to be altered to be stored."""
    args_hash: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    code: str | None = Field(default=None, max_length=40)
    idempotency_key: str | None = Field(default=None, max_length=TEXT_LIMIT)
    idempotency_key_sha256: str | None = Field(default=None, max_length=64)
    """The SHA-256 of the idempotency key as sent, when it had to be altered to be stored."""
    latency_ms: float


_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def storable(value: str, limit: int = TEXT_LIMIT) -> tuple[str, str | None]:
    """`value` as every backend can store it in a column of `limit` characters (control characters and lone
    surrogates replaced by U+FFFD, cut to `limit`), and the SHA-256 of the original when it had to change."""
    if len(value) <= limit and value.isprintable():
        return value, None
    cleaned = _UNSTORABLE.sub("\ufffd", value)[:limit]
    if cleaned == value:
        return value, None
    return cleaned, hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _text(value: Any, limit: int = TEXT_LIMIT) -> str | None:
    return storable(value, limit)[0] if isinstance(value, str) else None


def hash_and_size(arguments: Any) -> tuple[str, int, bool]:
    """`args_hash` of the arguments, the size in bytes of their canonical JSON (one serialisation for both), and
    whether they may hold text no backend stores (a NUL, or a lone surrogate: then they are hashed ASCII-escaped)."""
    try:
        canonical = canonical_json(arguments)
        suspect = b"\\u0000" in canonical
    except UnicodeEncodeError:
        canonical = canonical_json(arguments, ascii_only=True)
        suspect = True
    return hashlib.sha256(canonical).hexdigest(), len(canonical), suspect


@dataclass(frozen=True, slots=True)
class AuditStats:
    """What the audit log has done since it started: rows written, and rows lost (never silently)."""

    written: int
    unstorable: int
    """Rows the database refused even alone (logged with the reason)."""
    dropped: int
    """Rows turned away because the queue was full."""
    queued: int


class PendingRow:
    """The audit row of a call in flight, for the write path to insert in the write's own transaction."""

    __slots__ = ("row", "started", "written")

    def __init__(self, row: dict[str, Any], started: float) -> None:
        self.row = row
        self.started = started
        self.written = False

    def allowed(self) -> dict[str, Any]:
        """The row for a call that succeeded, timed now."""
        return {
            **self.row,
            "at": datetime.now(UTC),
            "outcome": "allowed",
            "code": None,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 3),
        }

    def insert(self, connection: Connection) -> None:
        """Insert the row of a successful call on `connection` (inside the caller's transaction)."""
        connection.execute(_INSERT, self.allowed())


_INSERT = insert(AuditRecord)


class _Throttled:
    """Logs a recurring problem at most once per `every` seconds, saying how many were not logged."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last = -every
        self._suppressed = 0

    def warning(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._suppressed += 1
            return
        suppressed, self._suppressed, self._last = self._suppressed, 0, now
        logger.warning(message + " (%d more like it not logged)", *args, suppressed)


class AuditLog:
    """Queues audit rows and writes them in the background, one transaction per `interval`
    (or per `batch_size` rows, whichever comes first); at most `max_queue` rows wait."""

    def __init__(
        self, db: Database, *, interval: float = 0.05, batch_size: int = 500, max_queue: int = 100_000
    ) -> None:
        self._db = db
        self.interval = interval
        self.batch_size = batch_size
        self.max_queue = max_queue
        self._queue: deque[dict[str, Any]] = deque()
        self._wake: anyio.Event | None = None
        self._lock = anyio.Lock()
        self._written = 0
        self._unstorable = 0
        self._dropped = 0
        self._overflow_log = _Throttled()
        self._retry_log = _Throttled()

    @property
    def stats(self) -> AuditStats:
        return AuditStats(self._written, self._unstorable, self._dropped, len(self._queue))

    def row(
        self,
        *,
        tenant: str | None,
        subject: str | None,
        client_id: str | None,
        tool: str,
        args_digest: str,
        idempotency_key: Any = None,
        actor: str | None = None,
        run_id: Any = None,
        trace_id: Any = None,
    ) -> dict[str, Any]:
        """The storable columns of a row, without its outcome (see `record` and `PendingRow`)."""
        tool_text, tool_sha = storable(tool)
        key_text, key_sha = storable(idempotency_key) if isinstance(idempotency_key, str) else (None, None)
        return {
            "tenant_id": _text(tenant, 64),
            "subject": _text(subject),
            "client_id": _text(client_id),
            "actor": _text(actor),
            "run_id": _text(run_id),
            "trace_id": _text(trace_id),
            "tool": tool_text,
            "tool_sha256": tool_sha,
            "args_hash": args_digest,
            "idempotency_key": key_text,
            "idempotency_key_sha256": key_sha,
        }

    def record(
        self,
        *,
        tenant: str | None,
        subject: str | None,
        client_id: str | None,
        tool: str,
        args_digest: str,
        outcome: Outcome,
        code: str | None,
        latency_ms: float,
        idempotency_key: Any = None,
        actor: str | None = None,
        run_id: Any = None,
        trace_id: Any = None,
    ) -> None:
        """Queue a row (texts made storable here); never waits."""
        row = self.row(
            tenant=tenant,
            subject=subject,
            client_id=client_id,
            tool=tool,
            args_digest=args_digest,
            idempotency_key=idempotency_key,
            actor=actor,
            run_id=run_id,
            trace_id=trace_id,
        )
        self.queue(row, outcome=outcome, code=code, latency_ms=latency_ms)

    def queue(self, row: dict[str, Any], *, outcome: Outcome, code: str | None, latency_ms: float) -> None:
        """Queue a row made by `row()` with its outcome; a full queue drops it (counted and logged)."""
        if len(self._queue) >= self.max_queue:
            self._dropped += 1
            self._overflow_log.warning("audit queue full (%d rows): a row was dropped", self.max_queue)
            return
        self._queue.append(
            {
                **row,
                "at": datetime.now(UTC),
                "outcome": outcome,
                "code": code if code is None else code[:40],
                "latency_ms": round(latency_ms, 3),
            }
        )
        if self._wake is not None:
            self._wake.set()

    async def flush(self) -> int:
        """Write every queued row now; returns how many were written."""
        written = 0
        # Shielded: once rows are taken off the queue they are written, even while shutting down.
        with anyio.CancelScope(shield=True):
            async with self._lock:
                batch = [self._queue.popleft() for _ in range(len(self._queue))]
                if batch:
                    written, retry = await self._db.run(self._write, batch)
                    if retry:  # the database is unreachable: keep the rows (the queue bound still holds)
                        room = max(self.max_queue - len(self._queue), 0)
                        self._dropped += max(len(retry) - room, 0)
                        self._queue.extendleft(reversed(retry[:room]))
                    self._written += written
        return written

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Write queued rows in the background while inside; flush everything on the way out."""
        async with anyio.create_task_group() as tg:
            self._wake = anyio.Event()
            tg.start_soon(self._writer)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                await self.flush()

    async def _writer(self) -> None:
        while True:
            wake = self._wake = self._wake or anyio.Event()
            await wake.wait()
            # Group commit: let a batch gather (one transaction per interval, not per call),
            # unless it is already large.
            if len(self._queue) < self.batch_size:
                await anyio.sleep(self.interval)
            self._wake = anyio.Event()
            await self.flush()
            if self._queue:  # rows kept for a retry: try again after the interval, not at once
                await anyio.sleep(self.interval)
                self._wake.set()

    def _write(self, batch: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]]:
        """Write `batch`, splitting it around rows the database refuses. Returns the rows written and, when
        the database could not be reached, the rows to try again."""
        try:
            with self._db.engine.begin() as connection:
                connection.execute(_INSERT, batch)
            return len(batch), []
        except Exception as exc:  # a row the database refuses, or the database itself
            if _unreachable(exc):
                self._retry_log.warning("could not write %d audit rows (%s); will retry", len(batch), exc)
                return 0, batch
            if len(batch) == 1:
                self._unstorable += 1
                row = batch[0]
                logger.error(
                    "audit row refused by the database, dropped: tool=%r tenant=%r outcome=%s: %s",
                    row.get("tool"),
                    row.get("tenant_id"),
                    row.get("outcome"),
                    exc,
                )
                return 0, []
        half = len(batch) // 2
        first, retry_first = self._write(batch[:half])
        second, retry_second = self._write(batch[half:])
        return first + second, retry_first + retry_second


def _unreachable(exc: Exception) -> bool:
    """Whether `exc` says the database is down or busy (retry later) rather than that a row is bad."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)
