"""The audit trail of a server: one row for every tool call, allowed or denied.

Rows are queued on the request path (no I/O there) and written in batches by a background task,
at most every 50 ms, so a burst of calls costs one transaction, not one each. `AuditLog.flush()` writes what is queued;
the server's lifespan flushes on shutdown.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from sqlalchemy import insert
from sqlmodel import Field, SQLModel

from mcp_servers.kit._storage import Database, utc_field
from schemas import canonical_json

logger = logging.getLogger(__name__)

Outcome = Literal["allowed", "denied", "failed"]
"""allowed: the tool ran and succeeded; denied: the boundary refused it; failed: the tool ran and erred."""


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_log"

    seq: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(index=True)
    tenant_id: str | None = Field(default=None, index=True, max_length=64)
    subject: str | None = Field(default=None, max_length=200)
    client_id: str | None = Field(default=None, max_length=200)
    tool: str = Field(max_length=200)
    args_hash: str = Field(max_length=64)
    outcome: str = Field(max_length=16)
    code: str | None = Field(default=None, max_length=40)
    idempotency_key: str | None = Field(default=None, max_length=200)
    latency_ms: float


def hash_and_size(arguments: Any) -> tuple[str, int]:
    """`args_hash` of the arguments and the size in bytes of their canonical JSON (one serialisation for both)."""
    canonical = canonical_json(arguments)
    return hashlib.sha256(canonical).hexdigest(), len(canonical)


class AuditLog:
    """Queues audit rows and writes them in the background, one transaction per `interval`
    (or per `batch_size` rows, whichever comes first)."""

    def __init__(self, db: Database, *, interval: float = 0.05, batch_size: int = 500) -> None:
        self._db = db
        self.interval = interval
        self.batch_size = batch_size
        self._queue: deque[dict[str, Any]] = deque()
        self._wake: anyio.Event | None = None
        self._lock = anyio.Lock()

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
        idempotency_key: str | None = None,
    ) -> None:
        self._queue.append(
            {
                "at": datetime.now(UTC),
                "tenant_id": tenant,
                "subject": subject,
                "client_id": client_id,
                "tool": tool,
                "args_hash": args_digest,
                "outcome": outcome,
                "code": code,
                "idempotency_key": idempotency_key,
                "latency_ms": round(latency_ms, 3),
            }
        )
        if self._wake is not None:
            self._wake.set()

    async def flush(self) -> int:
        """Write every queued row now; returns how many."""
        written = 0
        # Shielded: once rows are taken off the queue they are written, even while shutting down.
        with anyio.CancelScope(shield=True):
            async with self._lock:
                batch = [self._queue.popleft() for _ in range(len(self._queue))]
                if batch:
                    try:
                        await self._db.run(self._write, batch)
                        written = len(batch)
                    except Exception:  # report, and keep the rows for the next flush
                        logger.exception("could not write %d audit rows; will retry", len(batch))
                        self._queue.extendleft(reversed(batch))
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

    def _write(self, batch: list[dict[str, Any]]) -> None:
        with self._db.engine.begin() as connection:
            connection.execute(insert(AuditRecord), batch)
